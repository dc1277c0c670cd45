// The WAL keeper every daemon runs: each tick samples the -wal size of both databases (contimg_db_wal_bytes)
// and, in the one process holding the `wal-keeper` lease, runs the WAL guard on the state database (the
// pipeline database belongs to the imaging pipeline and is opened read-only). Any daemon may hold the lease:
// whichever is up keeps the WAL bounded, and a dead holder's lease expires after three ticks. The ticks run
// on lib/loop; the lease is taken inside the tick (not the loop's lease option) because every daemon samples
// the gauges whether or not it holds the lease.
import type { Clock } from '../clock.js';
import { walGuardTick, type Db } from '../db/index.js';
import { DbBusyError } from '../errors.js';
import { acquireLease, leaseOwner, releaseLease } from '../leases/index.js';
import type { Logger } from '../log.js';
import { startLoop } from '../loop.js';

export const WAL_KEEPER_LEASE = 'wal-keeper';

export interface WalKeeperOptions {
  state: Db;
  pipeline: Db;
  maxBytes: number;
  everyMs: number;
  clock: Clock;
  log: Logger;
  /** Lease owner: unique per running daemon (walKeeperOwner). */
  owner: string;
}

export interface WalKeeper {
  readonly owner: string;
  /** One tick now (the timer calls this); true when this process held the lease and ran the guard. */
  tick(): boolean;
  /** Stop ticking and hand the lease back so another daemon takes over at once. */
  stop(): void;
}

/** The lease owner for one daemon's WAL keeper (lib/leases' owner format). */
export function walKeeperOwner(daemon: string): string {
  return leaseOwner(daemon);
}

export function startWalKeeper(o: WalKeeperOptions): WalKeeper {
  const ttlMs = o.everyMs * 3;
  let token: number | null = null;
  let stopped = false;
  const tick = (): boolean => {
    if (stopped) return false;
    o.pipeline.walBytes(); // sets the gauge
    try {
      // Re-acquiring our own lease keeps the token and extends it: one short write per tick.
      const t = acquireLease(o.state, WAL_KEEPER_LEASE, o.owner, ttlMs, o.clock.now(), { pid: process.pid });
      if (t !== token)
        o.log.info(
          { fencingToken: t, lease: WAL_KEEPER_LEASE },
          t === null ? 'wal-keeper lease held elsewhere' : 'holding the wal-keeper lease',
        );
      token = t;
      if (token === null) {
        o.state.walBytes();
        return false;
      }
      walGuardTick(o.state, o.maxBytes, o.log);
      return true;
    } catch (e) {
      // A busy or failing database must not stop the keeper: log and try again next tick. A lock held
      // elsewhere only at debug: the database logs the stall once, and this would repeat it every tick.
      if (e instanceof DbBusyError) o.log.debug({ err: e }, 'WAL keeper tick: database locked; retrying');
      else o.log.warn({ err: e }, 'WAL keeper tick failed; retrying next tick');
      return false;
    }
  };
  // The first tick right after start-up (not inside it: a locked database must not delay READY=1). The tick
  // catches its own errors: the loop's backoff never applies, it ticks every everyMs.
  const stopping = new AbortController();
  startLoop({
    name: 'wal-keeper',
    everyMs: o.everyMs,
    signal: stopping.signal,
    clock: o.clock,
    log: o.log,
    tick: () => void tick(),
  });
  return {
    owner: o.owner,
    tick,
    stop() {
      if (stopped) return;
      stopped = true;
      stopping.abort();
      if (token === null) return;
      try {
        releaseLease(o.state, WAL_KEEPER_LEASE, o.owner, token);
      } catch (e) {
        o.log.warn({ err: e }, 'releasing the wal-keeper lease failed; it will expire');
      }
    },
  };
}
