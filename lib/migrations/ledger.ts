// The ledger (schema_migrations) and the runner lock (schema_migrations_lock). Both live in the migrated
// database itself and are created by the runner, not by a numbered migration, so they exist before any
// migration has run and work the same for the state and pipeline sets (the pipeline set has no leases
// table). The lock is a single row with an owner and an expiry: taken and renewed inside BEGIN IMMEDIATE,
// so concurrent runners serialise; a crashed runner's lock expires and the next runner takes it over.
import os from 'node:os';
import crypto from 'node:crypto';
import type { Connection, Db } from '../db/index.js';
import { sleep, type Clock } from '../clock.js';
import { ContimgError, DbBusyError } from '../errors.js';

export interface LedgerRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
  duration_ms: number;
  applied_by: string;
}

/** Another runner holds the migration lock past our wait budget. Exit 4. */
export class LockBusyError extends ContimgError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'LEASE_BUSY', retryable: true, httpStatus: 503, details });
  }
}

const LEDGER_DDL = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version     INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  checksum    TEXT    NOT NULL,
  applied_at  INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  applied_by  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_migrations_lock (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  owner       TEXT,
  acquired_at INTEGER,
  expires_at  INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO schema_migrations_lock (id, owner, expires_at) VALUES (1, NULL, 0);
`;

export function ensureLedger(db: Db): void {
  db.write((conn) => conn.exec(LEDGER_DDL));
}

export function hasLedger(conn: Connection): boolean {
  return !!conn
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`)
    .get();
}

export function readLedger(conn: Connection): LedgerRow[] {
  if (!hasLedger(conn)) return [];
  return conn.prepare('SELECT * FROM schema_migrations ORDER BY version').all() as LedgerRow[];
}

/** Who ran a step (schema_migrations.applied_by); the CLI adds its pid. */
export function runnerIdentity(suffix?: string): string {
  const base = `${os.userInfo().username}@${os.hostname()}`;
  return suffix ? `${base}:${suffix}` : base;
}

export interface Lock {
  owner: string;
  ttlMs: number;
}

/** Try once (one short IMMEDIATE transaction); true when the lock is now ours. */
function tryLock(db: Db, lock: Lock, nowMs: number): boolean {
  return db.write((conn) => {
    const row = conn.prepare('SELECT owner, expires_at FROM schema_migrations_lock WHERE id = 1').get() as
      { owner: string | null; expires_at: number } | undefined;
    if (row && row.owner !== null && row.owner !== lock.owner && row.expires_at > nowMs) return false;
    conn
      .prepare('UPDATE schema_migrations_lock SET owner = ?, acquired_at = ?, expires_at = ? WHERE id = 1')
      .run(lock.owner, nowMs, nowMs + lock.ttlMs);
    return true;
  });
}

/** Wait (polling) for the lock up to waitMs; LockBusyError after that. */
export async function acquireLock(
  db: Db,
  clock: Clock,
  ttlMs: number,
  waitMs: number,
  who: string,
): Promise<Lock> {
  // The random part keeps two runners with the same identity (same user, host, no pid) apart.
  const lock: Lock = { owner: `${who}#${crypto.randomBytes(4).toString('hex')}`, ttlMs };
  const start = clock.monotonic();
  for (let attempt = 0; ; attempt++) {
    try {
      if (tryLock(db, lock, clock.now())) return lock;
    } catch (e) {
      // The holder's step is inside its write transaction (possibly for longer than our write budget):
      // that is the lock being busy, not a failure; keep polling until waitMs.
      if (!(e instanceof DbBusyError)) throw e;
    }
    if (clock.monotonic() - start >= waitMs) {
      const holder = db.conn
        .prepare('SELECT owner, expires_at FROM schema_migrations_lock WHERE id = 1')
        .get();
      throw new LockBusyError(`${db.name}: another migration runner holds the lock`, { db: db.name, holder });
    }
    await sleep(Math.min(250, 20 * 2 ** Math.min(attempt, 4)));
  }
}

/** Inside a step's transaction: still ours? Renew it. Throws when another runner took it over. */
export function checkAndRenewLock(conn: Connection, lock: Lock, nowMs: number): void {
  const res = conn
    .prepare('UPDATE schema_migrations_lock SET expires_at = ? WHERE id = 1 AND owner = ?')
    .run(nowMs + lock.ttlMs, lock.owner);
  if (res.changes !== 1) throw new LockBusyError('the migration lock was taken over by another runner');
}

export function releaseLock(db: Db, lock: Lock): void {
  db.write((conn) =>
    conn
      .prepare('UPDATE schema_migrations_lock SET owner = NULL, expires_at = 0 WHERE id = 1 AND owner = ?')
      .run(lock.owner),
  );
}
