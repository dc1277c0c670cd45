// The one way to talk to SQLite. Per process and database: one writer connection and, on request, one
// reader: the honest "pool" for a synchronous driver (docs/database.md). Every write is BEGIN IMMEDIATE
// through write(); reads are deferred transactions through read(). Never read-then-write in a deferred
// transaction: a reader cannot be upgraded past a concurrent writer and SQLITE_BUSY escapes at once.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sleep, systemClock, type Clock } from '../clock.js';
import { backoffMs } from '../backoff.js';
import { classifySqlite, DbBusyError, InvalidStateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DbErrorCode, DbMetrics } from '../metrics.js';

export type Connection = Database.Database;
export type Statement<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

export interface OpenOptions {
  /** Logical name used in metrics and errors: 'state' or 'pipeline'. */
  name: string;
  path: string;
  busyTimeoutMs?: number;
  writeBudgetMs?: number;
  /** Open read-only (no writer): for the pipeline database, which the daemons only read. */
  readonly?: boolean;
  /** Also open a second, read-only connection for long reads so they never share the writer. */
  withReader?: boolean;
  /** Create the file (and folder) if missing; only migrations and tests do this. */
  create?: boolean;
  metrics?: DbMetrics;
  log?: Logger;
  clock?: Clock;
}

function applyPragmas(conn: Connection, busyTimeoutMs: number, readonly: boolean): void {
  conn.pragma(`busy_timeout = ${busyTimeoutMs}`);
  if (!readonly) {
    conn.pragma('journal_mode = WAL');
    conn.pragma('journal_size_limit = 67108864');
  }
  conn.pragma('synchronous = NORMAL');
  conn.pragma('foreign_keys = ON');
  conn.pragma('temp_store = MEMORY');
}

function errorLabel(e: unknown): DbErrorCode {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code.startsWith('SQLITE_CONSTRAINT')) return 'constraint';
  if (code === 'SQLITE_FULL') return 'full';
  if (code.startsWith('SQLITE_IOERR')) return 'ioerr';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'corrupt';
  return 'other';
}

function isSqliteError(e: unknown): boolean {
  return String((e as { code?: unknown } | null)?.code ?? '').startsWith('SQLITE_');
}

/** Block the thread briefly between lock attempts (we are already inside a synchronous busy wait). */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The longest writeAsync() lets SQLite's busy handler hold the thread in one try. */
export const WRITE_SLICE_MS = 50;

function lockBackoffMs(attempt: number): number {
  return backoffMs({ strategy: 'exponential', baseMs: 5, maxMs: 100, jitter: 0.5 }, attempt);
}

export class Db {
  readonly name: string;
  readonly path: string;
  /** The writer connection (read-only when opened readonly). Prepare statements on it once. */
  readonly conn: Connection;
  /** A separate read-only connection when opened withReader, otherwise the writer. */
  readonly reader: Connection;
  private readonly busyTimeoutMs: number;
  private readonly writeBudgetMs: number;
  private readonly metrics?: DbMetrics;
  private readonly clock: Clock;
  private readonly log?: Logger;
  private closed = false;
  /** How many db.write() calls are on the stack (nested writes are savepoints inside the outer one). */
  private writeDepth = 0;
  /** Monotonic time of the last write that gave up on the budget; cleared by the next successful write. */
  private writeExhaustedAt: number | null = null;
  /** The writer connection's busy_timeout pragma as last set. */
  private currentBusyTimeout: number;

  constructor(opts: OpenOptions) {
    this.name = opts.name;
    this.path = path.resolve(opts.path);
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.currentBusyTimeout = this.busyTimeoutMs;
    this.writeBudgetMs = opts.writeBudgetMs ?? 15_000;
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log;
    if (opts.create) fs.mkdirSync(path.dirname(this.path), { recursive: true });
    try {
      this.conn = new Database(this.path, { readonly: opts.readonly ?? false, fileMustExist: !opts.create });
      applyPragmas(this.conn, this.busyTimeoutMs, opts.readonly ?? false);
      this.reader = this.conn;
      if (opts.withReader && !opts.readonly) {
        this.reader = new Database(this.path, { readonly: true, fileMustExist: true });
        applyPragmas(this.reader, this.busyTimeoutMs, true);
      }
    } catch (e) {
      throw classifySqlite(e, { db: this.name, path: this.path });
    }
    this.metrics?.connections.set({ db: this.name, role: 'writer' }, opts.readonly ? 0 : 1);
    this.metrics?.connections.set(
      { db: this.name, role: 'reader' },
      this.reader !== this.conn || opts.readonly ? 1 : 0,
    );
  }

  /**
   * Run fn inside BEGIN IMMEDIATE. SQLITE_BUSY is retried with jittered backoff until the write budget is
   * spent, then DbBusyError (retryable) is thrown and counted. fn must be synchronous: no await inside.
   * SQLite's own busy handler is capped to what is left of the budget, so the budget is the real limit.
   * Lock wait = from the call until fn starts (BEGIN IMMEDIATE has the lock by then).
   * The whole wait blocks the event loop: code that can await should use writeAsync().
   */
  write<T>(fn: (conn: Connection) => T): T {
    this.refuseInsideRead();
    const start = this.clock.monotonic();
    try {
      for (let attempt = 1; ; attempt++) {
        const remaining = this.writeBudgetMs - (this.clock.monotonic() - start);
        const r = this.tryWrite(fn, Math.max(1, Math.min(this.busyTimeoutMs, Math.ceil(remaining))), start);
        if (r.ok) return r.value;
        const waited = this.clock.monotonic() - start;
        if (waited >= this.writeBudgetMs) throw this.busyTimeout(waited, this.writeBudgetMs, r.cause);
        blockFor(Math.min(this.writeBudgetMs - waited, lockBackoffMs(attempt)));
      }
    } finally {
      this.setBusyTimeout(this.busyTimeoutMs);
    }
  }

  /**
   * write() for code that can await: each try holds the thread for at most WRITE_SLICE_MS of SQLite's busy
   * handler, and the waits between tries yield to the event loop, so a lock held elsewhere (another process's
   * long transaction, an operator's sqlite3 shell) never stops /healthz, /metrics or the watchdog. Gives up with
   * DbBusyError after `budgetMs` (the configured write budget by default; Infinity waits until `signal`
   * aborts, then rejects with the signal's reason).
   */
  async writeAsync<T>(
    fn: (conn: Connection) => T,
    opts: { budgetMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const budgetMs = opts.budgetMs ?? this.writeBudgetMs;
    const start = this.clock.monotonic();
    try {
      for (let attempt = 1; ; attempt++) {
        opts.signal?.throwIfAborted();
        this.refuseInsideRead();
        const remaining = budgetMs - (this.clock.monotonic() - start);
        const slice = Math.max(1, Math.min(this.busyTimeoutMs, WRITE_SLICE_MS, Math.ceil(remaining)));
        const r = this.tryWrite(fn, slice, start);
        if (r.ok) return r.value;
        const waited = this.clock.monotonic() - start;
        if (waited >= budgetMs) throw this.busyTimeout(waited, budgetMs, r.cause);
        await sleep(Math.min(budgetMs - waited, lockBackoffMs(attempt)), opts.signal);
      }
    } finally {
      this.setBusyTimeout(this.busyTimeoutMs);
    }
  }

  /** Nested in our own write it is a savepoint under the IMMEDIATE lock: fine. Inside a read transaction on
   * the same connection (no separate reader) it would be a deferred read-then-write: refuse it outright. */
  private refuseInsideRead(): void {
    if (this.conn.inTransaction && this.writeDepth === 0) {
      throw new InvalidStateError(
        `${this.name}: db.write() inside an open read transaction (db.read on the writer connection); ` +
          'do the read inside db.write instead',
      );
    }
  }

  private setBusyTimeout(ms: number): void {
    if (ms === this.currentBusyTimeout) return;
    this.conn.pragma(`busy_timeout = ${ms}`);
    this.currentBusyTimeout = ms;
  }

  /**
   * One BEGIN IMMEDIATE try with SQLite's busy handler capped at busyMs. Returns the value, or the SQLITE_BUSY
   * error to retry; any other error (the database's, classified, or fn's own) is thrown.
   */
  private tryWrite<T>(
    fn: (conn: Connection) => T,
    busyMs: number,
    start: number,
  ): { ok: true; value: T } | { ok: false; cause: unknown } {
    let fnStart = -1;
    const tx = this.conn.transaction((c: Connection) => {
      fnStart = this.clock.monotonic();
      return fn(c);
    });
    this.setBusyTimeout(busyMs);
    try {
      this.writeDepth++;
      let value: T;
      try {
        value = tx.immediate(this.conn);
      } finally {
        this.writeDepth--;
      }
      this.metrics?.txSeconds.observe(
        { db: this.name, kind: 'write' },
        (this.clock.monotonic() - fnStart) / 1000,
      );
      this.metrics?.lockWaitSeconds.observe({ db: this.name }, (fnStart - start) / 1000);
      this.writeExhaustedAt = null;
      return { ok: true, value };
    } catch (e) {
      const label = errorLabel(e);
      if (label === 'busy') return { ok: false, cause: e };
      // Errors thrown by fn itself (LeaseLostError, validation) are the caller's, not the database's.
      if (isSqliteError(e)) this.metrics?.errors.inc({ db: this.name, code: label });
      throw classifySqlite(e, { db: this.name });
    }
  }

  private busyTimeout(waited: number, budgetMs: number, cause: unknown): DbBusyError {
    this.writeExhaustedAt = this.clock.monotonic();
    this.metrics?.busyTimeouts.inc({ db: this.name });
    this.metrics?.errors.inc({ db: this.name, code: 'busy' });
    this.metrics?.lockWaitSeconds.observe({ db: this.name }, waited / 1000);
    return new DbBusyError(
      `${this.name}: write lock busy for ${Math.round(waited)} ms (budget ${budgetMs} ms)`,
      { details: { db: this.name, waitedMs: Math.round(waited) }, cause },
    );
  }

  /** Run fn inside a deferred (read) transaction on the reader connection: one consistent snapshot. */
  read<T>(fn: (conn: Connection) => T): T {
    const t0 = this.clock.monotonic();
    try {
      return this.reader.transaction(fn).deferred(this.reader);
    } catch (e) {
      if (isSqliteError(e)) this.metrics?.errors.inc({ db: this.name, code: errorLabel(e) });
      throw classifySqlite(e, { db: this.name });
    } finally {
      this.metrics?.txSeconds.observe({ db: this.name, kind: 'read' }, (this.clock.monotonic() - t0) / 1000);
    }
  }

  /**
   * read() for code that can await, against a file someone else may lock (the pipeline's database during its
   * VACUUM or migration): each try lets SQLite's busy handler hold the thread for at most WRITE_SLICE_MS, and
   * the waits between tries yield, so /healthz and the watchdog keep answering. Gives up with DbBusyError
   * after `budgetMs` (the busy timeout by default); an aborted `signal` rejects with its reason.
   */
  async readAsync<T>(
    fn: (conn: Connection) => T,
    opts: { budgetMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const budgetMs = opts.budgetMs ?? this.busyTimeoutMs;
    const start = this.clock.monotonic();
    const slice = Math.max(1, Math.min(this.busyTimeoutMs, WRITE_SLICE_MS));
    for (let attempt = 1; ; attempt++) {
      opts.signal?.throwIfAborted();
      this.reader.pragma(`busy_timeout = ${slice}`);
      try {
        return this.read(fn);
      } catch (e) {
        if (!(e instanceof DbBusyError)) throw e;
        const waited = this.clock.monotonic() - start;
        if (waited >= budgetMs)
          throw new DbBusyError(
            `${this.name}: locked for ${Math.round(waited)} ms (read budget ${budgetMs} ms)`,
            {
              details: { db: this.name, waitedMs: Math.round(waited) },
              cause: e,
            },
          );
        await sleep(Math.min(budgetMs - waited, lockBackoffMs(attempt)), opts.signal);
      } finally {
        this.reader.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
        if (this.reader === this.conn) this.currentBusyTimeout = this.busyTimeoutMs;
      }
    }
  }

  /** SQLite's data_version: changes when another connection commits. Cheap; used to wake tail readers. */
  dataVersion(): number {
    return this.conn.pragma('data_version', { simple: true }) as number;
  }

  userVersion(): number {
    return this.conn.pragma('user_version', { simple: true }) as number;
  }

  walBytes(): number {
    try {
      const size = fs.statSync(`${this.path}-wal`).size;
      this.metrics?.walBytes.set({ db: this.name }, size);
      return size;
    } catch {
      this.metrics?.walBytes.set({ db: this.name }, 0);
      return 0;
    }
  }

  /** Run a WAL checkpoint; busy = 1 means a reader kept it from completing. */
  checkpoint(mode: 'passive' | 'restart' | 'truncate'): { busy: number; log: number; checkpointed: number } {
    // RESTART/TRUNCATE wait for readers through the busy handler; a guard tick must not stall the event
    // loop for the whole busy_timeout, so it waits briefly and reports busy instead.
    this.conn.pragma(`busy_timeout = ${Math.min(this.busyTimeoutMs, 200)}`);
    let row: { busy: number; log: number; checkpointed: number };
    try {
      [row] = this.conn.pragma(`wal_checkpoint(${mode.toUpperCase()})`) as (typeof row)[];
    } finally {
      this.conn.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
    this.metrics?.checkpoints.inc({ db: this.name, mode, result: row.busy ? 'busy' : 'ok' });
    return row;
  }

  /** SELECT 1 latency, schema version and WAL size: what /readyz and `contimg status` show. */
  health(): { ok: boolean; latencyMs: number; schemaVersion: number; walBytes: number; error?: string } {
    const t0 = this.clock.monotonic();
    try {
      this.reader.prepare('SELECT 1').get();
      // A write that gave up on the budget (lock exhaustion) makes the database degraded until a write
      // succeeds again or a minute passes: /readyz reports it through this check.
      const exhausted =
        this.writeExhaustedAt !== null && this.clock.monotonic() - this.writeExhaustedAt < 60_000;
      return {
        ok: !exhausted,
        ...(exhausted && {
          error: `write lock exhausted: a write gave up after the ${this.writeBudgetMs} ms budget`,
        }),
        latencyMs: this.clock.monotonic() - t0,
        schemaVersion: this.userVersion(),
        walBytes: this.walBytes(),
      };
    } catch (e) {
      return {
        ok: false,
        latencyMs: this.clock.monotonic() - t0,
        schemaVersion: -1,
        walBytes: 0,
        error: (e as Error).message,
      };
    }
  }

  /** An online backup (never cp of a live file). */
  async backup(dest: string): Promise<void> {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    await this.conn.backup(dest);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.conn.readonly) this.checkpoint('passive');
    } catch (e) {
      this.log?.warn({ err: e, db: this.name }, 'final checkpoint failed');
    }
    if (this.reader !== this.conn) this.reader.close();
    this.conn.close();
    this.metrics?.connections.set({ db: this.name, role: 'writer' }, 0);
    this.metrics?.connections.set({ db: this.name, role: 'reader' }, 0);
  }
}

export function openDb(opts: OpenOptions): Db {
  return new Db(opts);
}
