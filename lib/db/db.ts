// The one way to talk to SQLite. Per process and database: one writer connection and, on request, one
// reader: the honest "pool" for a synchronous driver (docs/database.md). Every write is BEGIN IMMEDIATE
// through write() or writeAsync(); reads are deferred transactions through read(). Never read-then-write in a
// deferred transaction: a reader cannot be upgraded past a concurrent writer and SQLITE_BUSY escapes at once.
//
// Waiting for the write lock is ours, not SQLite's busy handler's (write-lock.ts): write() polls for at most
// its synchronous budget, and hardly at all while the lock has been unavailable for longer than that (a lock
// held elsewhere must not freeze the event loop); writeAsync() yields between tries and may wait as long as
// its caller allows. Stalls are tracked and reported (stall.ts).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, sleep, type Clock } from '../clock.js';
import { backoffMs, type BackoffPolicy } from '../backoff.js';
import { classifySqlite, DbBusyError, InvalidStateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DbMetrics } from '../metrics.js';
import { WriteStall } from './stall.js';
import { errorLabel, isSqliteError, WriteLock } from './write-lock.js';

export type Connection = Database.Database;
export type Statement<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

export interface OpenOptions {
  /** Logical name used in metrics and errors: 'state' or 'pipeline'. */
  name: string;
  path: string;
  /**
   * How long a statement outside a write transaction (a read, a checkpoint) lets SQLite's busy handler wait
   * for a lock. Waits for the write lock do not use it: see writeBudgetMs and syncWriteBudgetMs.
   */
  busyTimeoutMs?: number;
  /** How long writeAsync() waits for the write lock before DbBusyError, unless the call says otherwise. */
  writeBudgetMs?: number;
  /**
   * How long db.write() may hold the thread waiting for the write lock. Defaults to writeBudgetMs (a CLI
   * command may block); daemons pass databases.syncWriteBudgetMs so another process's lock cannot freeze
   * their event loop.
   */
  syncWriteBudgetMs?: number;
  /** Writes without the lock for this long are a stall: logged, and health() is not ok. Default 5000. */
  writeStallMs?: number;
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

/** Between writeAsync() tries: 1 ms doubling to 50 ms; the event loop runs meanwhile. */
const ASYNC_RETRY: BackoffPolicy = { strategy: 'exponential', baseMs: 1, maxMs: 50, jitter: 0.5 };

/** The longest one writeAsync() try holds the thread (it polls briefly only in its first 100 ms of waiting). */
export const WRITE_SLICE_MS = 2;
const ASYNC_POLL_WHILE_MS = 100;

/** How long a RESTART/TRUNCATE checkpoint waits for readers (holding the write lock) before reporting busy. */
const CHECKPOINT_WAIT_MS = 50;

/** What db.write() still waits while the lock is stalled beyond its budget: enough for a free lock, no more. */
const STALLED_SYNC_WAIT_MS = 10;

function isThenable(v: unknown): boolean {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
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
  private readonly syncWriteBudgetMs: number;
  private readonly metrics?: DbMetrics;
  private readonly clock: Clock;
  private readonly log?: Logger;
  private readonly stall: WriteStall;
  private readonly lock: WriteLock;
  private closed = false;
  /** How many write bodies are on the stack (nested writes are savepoints inside the outer one). */
  private writeDepth = 0;

  constructor(opts: OpenOptions) {
    this.name = opts.name;
    this.path = path.resolve(opts.path);
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.writeBudgetMs = opts.writeBudgetMs ?? 15_000;
    this.syncWriteBudgetMs = opts.syncWriteBudgetMs ?? this.writeBudgetMs;
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log;
    this.stall = new WriteStall({
      db: this.name,
      stallAfterMs: opts.writeStallMs ?? 5000,
      log: opts.log,
      version: () => this.dataVersion(),
    });
    if (opts.create) fs.mkdirSync(path.dirname(this.path), { recursive: true });
    try {
      this.conn = new Database(this.path, { readonly: opts.readonly ?? false, fileMustExist: !opts.create });
      applyPragmas(this.conn, this.busyTimeoutMs, opts.readonly ?? false);
      this.reader = this.conn;
      if (opts.withReader && !opts.readonly) {
        // Stryker disable next-line BooleanLiteral: equivalent: the writer has just opened (or created) the file.
        this.reader = new Database(this.path, { readonly: true, fileMustExist: true });
        // Stryker disable next-line BooleanLiteral: equivalent: the writer made the file WAL; setting it again on a
        // read-only connection is a no-op, and so is the journal size limit (only writers truncate the WAL).
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
    this.lock = new WriteLock(this.conn, this.busyTimeoutMs, (e) => {
      if (isSqliteError(e)) this.metrics?.errors.inc({ db: this.name, code: errorLabel(e) });
      return classifySqlite(e, { db: this.name });
    });
    this.metrics?.stallSources.set(this.name, () => this.stallSeconds());
  }

  /**
   * Run fn inside BEGIN IMMEDIATE and commit; fn runs once (its errors roll back and are thrown, never
   * retried). fn must be synchronous: no await inside. Waits for the write lock for at most the synchronous
   * budget, or only briefly while the lock has been unavailable for longer than that, then throws
   * DbBusyError (retryable): a background loop backs off and retries. Code that can await, and writes whose
   * loss matters, use writeAsync(). Lock wait = from the call until fn starts.
   */
  write<T>(fn: (conn: Connection) => T): T {
    this.refuseInsideRead();
    if (this.writeDepth > 0) return this.nested(fn);
    const start = performance.now();
    this.stall.noteProgress(start);
    // Stryker disable next-line EqualityOperator: equivalent: `>` differs only when the stall is exactly the
    // budget, to the fraction of a millisecond.
    const stalled = this.stall.ms(start) >= this.syncWriteBudgetMs;
    const budgetMs = stalled
      ? Math.min(STALLED_SYNC_WAIT_MS, this.syncWriteBudgetMs)
      : this.syncWriteBudgetMs;
    if (!this.lockWithin(start, budgetMs)) throw this.giveUp(start, budgetMs, stalled);
    return this.runLocked(fn, start);
  }

  /**
   * write() for code that can await: between tries the event loop runs (a try holds the thread for at most
   * WRITE_SLICE_MS), so a lock held elsewhere (another process's long transaction, an operator's sqlite3
   * shell) never stops /healthz, /metrics or the watchdog. Gives up with DbBusyError after `budgetMs` (the
   * configured write budget by default; Infinity waits until `signal` aborts, then rejects with the signal's
   * reason).
   */
  async writeAsync<T>(
    fn: (conn: Connection) => T,
    opts: { budgetMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    if (this.writeDepth > 0) return this.nested(fn);
    const budgetMs = opts.budgetMs ?? this.writeBudgetMs;
    const start = performance.now();
    let waiting: { start: number } | null = null;
    try {
      for (let attempt = 1; ; attempt++) {
        opts.signal?.throwIfAborted();
        this.refuseInsideRead();
        // How long one try polls (at most WRITE_SLICE_MS, early in the wait) is the thread's time, not
        // behaviour: a try that does not poll still tries once, and the loop tries again after its sleep.
        // Stryker disable next-line ArithmeticOperator: equivalent, see above.
        const waited = performance.now() - start;
        // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent, see above.
        const pollMs = waited < ASYNC_POLL_WHILE_MS ? Math.min(WRITE_SLICE_MS, budgetMs - waited) : 0;
        // Stryker disable next-line BooleanLiteral: equivalent: tracking the poll in the stall tracker adds a waiter
        // and removes it when the poll ends, inside the wait this loop already tracks.
        if (this.lockWithin(start, pollMs, false)) return this.runLocked(fn, start);
        const now = performance.now();
        waiting ??= this.stall.startWaiting(start, now);
        // Stryker disable next-line EqualityOperator: equivalent: `>` differs only when the wait is exactly the
        // budget, to the fraction of a millisecond.
        if (now - start >= budgetMs) throw this.giveUp(start, budgetMs, false);
        this.stall.check(now);
        await sleep(Math.min(budgetMs - (now - start), backoffMs(ASYNC_RETRY, attempt)), opts.signal);
      }
    } finally {
      this.stall.doneWaiting(waiting);
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

  /** Take the write lock within budgetMs; `track` records the wait in the stall tracker (db.write's). */
  private lockWithin(start: number, budgetMs: number, track = true): boolean {
    return this.lock.take(
      budgetMs,
      track
        ? () => {
            const w = this.stall.startWaiting(start, performance.now());
            return () => this.stall.doneWaiting(w);
          }
        : undefined,
      start,
    );
  }

  /** With the lock held: run fn once, commit; on any error roll back and throw it (classified). */
  private runLocked<T>(fn: (conn: Connection) => T, start: number): T {
    const fnStart = performance.now();
    this.stall.acquired(fnStart);
    this.metrics?.lockWaitSeconds.observe({ db: this.name }, (fnStart - start) / 1000);
    this.writeDepth++;
    try {
      const value = fn(this.conn);
      if (isThenable(value))
        throw new TypeError(`${this.name}: a db.write() body must be synchronous; it returned a promise`);
      this.lock.commit();
      return value;
    } catch (e) {
      const failed = this.lock.rollback();
      if (failed)
        this.log?.error({ err: failed, cause: e, db: this.name }, 'rollback after a failed write failed');
      if (isSqliteError(e)) this.metrics?.errors.inc({ db: this.name, code: errorLabel(e) });
      // Errors thrown by fn itself (LeaseLostError, validation) are the caller's and pass through unchanged.
      throw classifySqlite(e, { db: this.name });
    } finally {
      this.writeDepth--;
      this.metrics?.txSeconds.observe({ db: this.name, kind: 'write' }, (performance.now() - fnStart) / 1000);
    }
  }

  /** A write inside our own write body: a savepoint under the lock we already hold. */
  private nested<T>(fn: (conn: Connection) => T): T {
    this.writeDepth++;
    try {
      return this.conn.transaction(fn)(this.conn);
    } catch (e) {
      if (isSqliteError(e)) this.metrics?.errors.inc({ db: this.name, code: errorLabel(e) });
      throw classifySqlite(e, { db: this.name });
    } finally {
      this.writeDepth--;
    }
  }

  private giveUp(start: number, budgetMs: number, stalled: boolean): DbBusyError {
    const now = performance.now();
    const waited = now - start;
    const stalledMs = this.stall.ms(now);
    this.stall.gaveUp(now);
    this.metrics?.busyTimeouts.inc({ db: this.name });
    this.metrics?.errors.inc({ db: this.name, code: 'busy' });
    this.metrics?.lockWaitSeconds.observe({ db: this.name }, waited / 1000);
    const why = stalled
      ? `; writes have had no lock for ${Math.round(stalledMs)} ms, so db.write() does not wait on the event loop`
      : '';
    return new DbBusyError(
      `${this.name}: write lock busy for ${Math.round(waited)} ms (budget ${budgetMs} ms)${why}`,
      { details: { db: this.name, waitedMs: Math.round(waited), stalledMs: Math.round(stalledMs) } },
    );
  }

  /** Seconds writes have gone without the write lock (0 when none is waiting or failing): the stall gauge. */
  stallSeconds(): number {
    const now = performance.now();
    this.stall.noteProgress(now);
    this.stall.check(now);
    return this.stall.ms(now) / 1000;
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
        await sleep(Math.min(budgetMs - waited, backoffMs(ASYNC_RETRY, attempt)), opts.signal);
      } finally {
        this.reader.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
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
    // RESTART/TRUNCATE wait for readers through the busy handler, holding the write lock meanwhile: a guard
    // tick must stall neither the event loop nor every writer for the whole busy_timeout, so it waits
    // briefly and reports busy instead (the next tick tries again).
    this.conn.pragma(`busy_timeout = ${Math.min(this.busyTimeoutMs, CHECKPOINT_WAIT_MS)}`);
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
      // Writes that have had no lock for writeStallMs make the database degraded until one gets it:
      // /readyz reports it through this check (liveness does not: see lib/daemon/main.ts).
      this.stall.noteProgress(performance.now());
      const stalled = this.stall.reason(performance.now());
      return {
        ok: stalled === undefined,
        ...(stalled !== undefined && { error: stalled }),
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
    this.metrics?.stallSources.delete(this.name);
    this.metrics?.writeStallSeconds.set({ db: this.name }, 0);
    // Stryker disable next-line ConditionalExpression: equivalent (`true`): closing the one connection twice is
    // harmless (`false`, the separate reader left open, is killed).
    if (this.reader !== this.conn) this.reader.close();
    this.conn.close();
    this.metrics?.connections.set({ db: this.name, role: 'writer' }, 0);
    this.metrics?.connections.set({ db: this.name, role: 'reader' }, 0);
  }
}

export function openDb(opts: OpenOptions): Db {
  return new Db(opts);
}
