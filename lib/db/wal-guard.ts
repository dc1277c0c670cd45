// The WAL guard: sample the -wal size; above the limit, checkpoint: first PASSIVE (copies the WAL into the
// database without taking the write lock, so writers go on), then RESTART (takes the write lock, copies only
// what was written meanwhile, and resets the WAL once no reader needs it). A RESTART straight away held the
// write lock while copying the whole WAL: 0.2–0.5 s of lock wait for every writer on a 64–100 MB WAL
// (docs/database.md §7). Warn when a reader keeps RESTART from completing (a long read transaction pins the
// WAL and it grows without bound); when idle again, TRUNCATE. Whichever daemon holds the `wal-keeper` lease
// runs it (lib/daemon/wal-keeper.ts).
import type { Logger } from '../log.js';
import type { Db } from './db.js';

export interface WalGuardResult {
  walBytes: number;
  action: 'none' | 'restart' | 'truncate';
  busy: boolean;
}

/** One tick of the guard; call it every few seconds from a loop that holds the wal-keeper lease. */
export function walGuardTick(db: Db, maxBytes: number, log: Logger): WalGuardResult {
  const walBytes = db.walBytes();
  if (walBytes <= maxBytes) return { walBytes, action: 'none', busy: false };
  db.checkpoint('passive');
  const restart = db.checkpoint('restart');
  if (restart.busy) {
    log.warn(
      { db: db.name, walBytes, maxBytes, frames: restart.log, checkpointed: restart.checkpointed },
      'WAL over its limit and a reader is holding it: a long read transaction pins the WAL',
    );
    return { walBytes, action: 'restart', busy: true };
  }
  const truncate = db.checkpoint('truncate');
  const after = db.walBytes();
  log.info({ db: db.name, before: walBytes, after, busy: truncate.busy }, 'WAL checkpointed and truncated');
  return { walBytes: after, action: 'truncate', busy: truncate.busy !== 0 };
}
