// Applying and reverting migrations. Each file runs in its own BEGIN IMMEDIATE transaction (db.write)
// together with its ledger row and PRAGMA user_version, so a failure rolls back all three. The runner holds
// the ledger lock for the whole run so concurrent runners serialise and the second finds nothing to do.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openDb, type Connection, type Db } from '../db/index.js';
import { systemClock, type Clock } from '../clock.js';
import { ContimgError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadMigrations, pad, type MigrationFile, type MigrationSet } from './files.js';
import {
  acquireLock,
  checkAndRenewLock,
  ensureLedger,
  readLedger,
  releaseLock,
  runnerIdentity,
  type LedgerRow,
  type Lock,
} from './ledger.js';
import { LEDGER_TABLES } from './snapshot.js';

/** Applied files edited or deleted since they ran: the ledger and the files disagree. Exit 3. */
export class DriftError extends ContimgError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'DRIFT', retryable: false, details });
  }
}

/** A migration statement failed; its transaction was rolled back. Exit 1. */
export class MigrationFailedError extends ContimgError {
  constructor(message: string, details: Record<string, unknown>, cause: unknown) {
    super(message, { code: 'MIGRATION_FAILED', retryable: false, details, cause });
  }
}

export interface RunOptions {
  path: string;
  set: MigrationSet;
  /** Target version; default head (up) or one step back (down). */
  to?: number;
  /** Migrations root (holding <set>/); default: the repository's migrations/ folder. */
  dir?: string;
  log?: Logger;
  clock?: Clock;
  /** How long to wait for another runner's lock before LockBusyError (exit 4). */
  lockWaitMs?: number;
  /** Lock expiry, renewed at every step; a crashed runner's lock frees itself after this. */
  lockTtlMs?: number;
  /** Recorded in schema_migrations.applied_by and the lock owner; default user@host. */
  appliedBy?: string;
}

export interface UpOptions extends RunOptions {
  /** Take an online backup before the first pending step (default true). */
  backup?: boolean;
  /** Folder for backups; default <folder of the database>/backups. */
  backupDir?: string;
  dryRun?: boolean;
}

export interface StepResult {
  version: number;
  name: string;
  durationMs: number;
}

export interface RunResult {
  set: MigrationSet;
  path: string;
  from: number;
  to: number;
  applied: StepResult[];
  reverted: StepResult[];
  backup: string | null;
  dryRun: boolean;
}

/** Ledger rows whose file is gone or whose checksum no longer matches the file. */
export function findDrift(
  files: MigrationFile[],
  ledger: LedgerRow[],
): { version: number; name: string; state: 'modified' | 'missing' }[] {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const out: { version: number; name: string; state: 'modified' | 'missing' }[] = [];
  for (const row of ledger) {
    const f = byVersion.get(row.version);
    if (!f) out.push({ version: row.version, name: row.name, state: 'missing' });
    else if (f.checksum !== row.checksum)
      out.push({ version: row.version, name: row.name, state: 'modified' });
  }
  return out;
}

function assertNoDrift(set: MigrationSet, files: MigrationFile[], ledger: LedgerRow[]): void {
  const drift = findDrift(files, ledger);
  if (drift.length > 0) {
    const list = drift.map((d) => `${pad(d.version)}_${d.name} (${d.state})`).join(', ');
    throw new DriftError(`${set}: applied migrations differ from the files: ${list}`, { set, drift });
  }
}

function utcStamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function isEmptyDb(conn: Connection): boolean {
  const rows = conn.prepare(`SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`).all() as {
    name: string;
  }[];
  return rows.every((r) => LEDGER_TABLES.includes(r.name));
}

function execStep(db: Db, file: MigrationFile, sql: string, after: (conn: Connection) => void): void {
  const fkOff = file.directives.foreignKeysOff;
  if (file.directives.noTransaction) {
    db.conn.exec(sql);
    db.write(after);
    return;
  }
  // PRAGMA foreign_keys is a no-op inside a transaction: switch it before BEGIN, check before COMMIT.
  if (fkOff) db.conn.pragma('foreign_keys = OFF');
  try {
    db.write((conn) => {
      conn.exec(sql);
      if (fkOff) {
        const bad = conn.pragma('foreign_key_check') as unknown[];
        if (bad.length > 0)
          throw new Error(
            `foreign_key_check found ${bad.length} violation(s): ${JSON.stringify(bad.slice(0, 5))}`,
          );
      }
      after(conn);
    });
  } finally {
    if (fkOff) db.conn.pragma('foreign_keys = ON');
  }
}

interface Session {
  db: Db;
  lock: Lock;
  clock: Clock;
  files: MigrationFile[];
  ledger: LedgerRow[];
}

async function withSession<T>(opts: RunOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  const clock = opts.clock ?? systemClock;
  const files = loadMigrations(opts.set, opts.dir);
  const db = openDb({ name: opts.set, path: opts.path, create: true, log: opts.log, clock });
  try {
    ensureLedger(db);
    const who = opts.appliedBy ?? runnerIdentity();
    const lock = await acquireLock(db, clock, opts.lockTtlMs ?? 10 * 60_000, opts.lockWaitMs ?? 60_000, who);
    try {
      const ledger = readLedger(db.conn);
      assertNoDrift(opts.set, files, ledger);
      return await fn({ db, lock, clock, files, ledger });
    } finally {
      // A failed release must not replace fn's own outcome (a migration failure would turn into "lock
      // busy"): the lock expires after lockTtlMs anyway.
      try {
        releaseLock(db, lock);
      } catch (e) {
        opts.log?.warn({ err: e, db: opts.set }, 'could not release the migration lock; it will expire');
      }
    }
  } finally {
    db.close();
  }
}

/** A result that has done nothing yet: at `from`, no steps, no backup. */
function startResult(set: MigrationSet, dbPath: string, from: number, dryRun: boolean): RunResult {
  return { set, path: dbPath, from, to: from, applied: [], reverted: [], backup: null, dryRun };
}

function currentVersion(ledger: LedgerRow[]): number {
  return ledger.length === 0 ? 0 : ledger[ledger.length - 1].version;
}

/** Online backup before the first pending step; returns the file written. */
async function takeBackup(db: Db, opts: UpOptions, from: number, clock: Clock): Promise<string> {
  const dir = opts.backupDir ?? path.join(path.dirname(db.path), 'backups');
  const file = path.join(dir, `${opts.set}-${pad(from)}-${utcStamp(clock.now())}.sqlite3`);
  fs.mkdirSync(dir, { recursive: true });
  await db.backup(file);
  // A self-contained file: rollback-journal mode, so copying or opening it never needs -wal/-shm files.
  const copy = new Database(file);
  copy.pragma('journal_mode = DELETE');
  copy.close();
  opts.log?.info({ db: opts.set, backup: file }, 'backup taken before migrating');
  return file;
}

/** One up step with its ledger row and user_version, in one transaction. */
function applyStep(db: Db, lock: Lock, clock: Clock, f: MigrationFile, by: string): StepResult {
  const t0 = clock.monotonic();
  try {
    execStep(db, f, f.up, (conn) => {
      checkAndRenewLock(conn, lock, clock.now());
      conn
        .prepare(
          'INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms, applied_by) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(f.version, f.name, f.checksum, clock.now(), Math.round(clock.monotonic() - t0), by);
      conn.pragma(`user_version = ${f.version}`);
    });
  } catch (e) {
    throw stepFailure(db.name as MigrationSet, f, 'up', e);
  }
  return { version: f.version, name: f.name, durationMs: Math.round(clock.monotonic() - t0) };
}

/** Apply pending migrations up to `to` (default head). Resolves with what was done. */
export async function migrateUp(opts: UpOptions): Promise<RunResult> {
  return withSession(opts, async ({ db, lock, clock, files, ledger }) => {
    const from = currentVersion(ledger);
    const target = opts.to ?? files.length;
    if (target > files.length)
      throw new ContimgError(`--to ${target} is beyond head ${files.length}`, { code: 'USAGE' });
    const pending = files.filter((f) => f.version > from && f.version <= target);
    const result = startResult(opts.set, db.path, from, !!opts.dryRun);
    if (pending.length === 0 || opts.dryRun) {
      result.to = opts.dryRun && pending.length > 0 ? pending[pending.length - 1].version : from;
      result.applied = opts.dryRun
        ? pending.map((f) => ({ version: f.version, name: f.name, durationMs: 0 }))
        : [];
      return result;
    }
    if (opts.backup !== false && !isEmptyDb(db.conn)) result.backup = await takeBackup(db, opts, from, clock);
    const by = opts.appliedBy ?? runnerIdentity();
    for (const f of pending) {
      const step = applyStep(db, lock, clock, f, by);
      result.applied.push(step);
      result.to = f.version;
      opts.log?.info({ db: opts.set, ...step }, 'migration applied');
    }
    return result;
  });
}

function stepFailure(set: MigrationSet, f: MigrationFile, dir: 'up' | 'down', e: unknown): Error {
  if (e instanceof ContimgError && (e.code === 'LEASE_BUSY' || e.code === 'DB_BUSY')) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new MigrationFailedError(
    `${set}: ${pad(f.version)}_${f.name}.${dir}.sql failed and was rolled back: ${msg}`,
    { set, version: f.version },
    e,
  );
}

/** Revert applied migrations down to `to` (default: one step). Refuses to pass an irreversible step. */
export async function migrateDown(opts: RunOptions): Promise<RunResult> {
  return withSession(opts, async ({ db, lock, clock, files, ledger }) => {
    const from = currentVersion(ledger);
    const target = opts.to ?? Math.max(0, from - 1);
    if (target < 0 || target > from)
      throw new ContimgError(`--to ${target} must be between 0 and the current version ${from}`, {
        code: 'USAGE',
      });
    const steps = files.filter((f) => f.version > target && f.version <= from).reverse();
    const blocked = steps.find((f) => f.directives.irreversible);
    if (blocked) {
      throw new ContimgError(
        `${opts.set}: ${pad(blocked.version)}_${blocked.name} is irreversible; down cannot pass it`,
        {
          code: 'IRREVERSIBLE',
          details: { set: opts.set, version: blocked.version },
        },
      );
    }
    const result = startResult(opts.set, db.path, from, false);
    for (const f of steps) {
      const t0 = clock.monotonic();
      try {
        execStep(db, f, f.down ?? '', (conn) => {
          checkAndRenewLock(conn, lock, clock.now());
          conn.prepare('DELETE FROM schema_migrations WHERE version = ?').run(f.version);
          conn.pragma(`user_version = ${f.version - 1}`);
        });
      } catch (e) {
        throw stepFailure(opts.set, f, 'down', e);
      }
      const step = { version: f.version, name: f.name, durationMs: Math.round(clock.monotonic() - t0) };
      result.reverted.push(step);
      result.to = f.version - 1;
      opts.log?.info({ db: opts.set, ...step }, 'migration reverted');
    }
    return result;
  });
}
