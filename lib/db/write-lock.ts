// Taking SQLite's write lock (BEGIN IMMEDIATE) ourselves rather than in SQLite's busy handler. The handler
// sleeps 1, 2, 5 … up to 100 ms between tries, and while a waiter sleeps the other processes take the lock
// again and again: that unfairness was the 0.5–2 s tail of lock waits (docs/database.md §7). Here the
// handler is off during the wait and the thread polls every 50 µs doubling to 1 ms, and every 50 µs again once
// the wait has aged (pollDelayMs), for a budget the caller chooses (db.write: short, it blocks the event loop;
// writeAsync: a try of at most a few ms, then it yields).
import { baseDelayMs, jitteredMs, type BackoffPolicy } from '../backoff.js';
import type { DbErrorCode } from '../metrics.js';
import type Database from 'better-sqlite3';

type Connection = Database.Database;
type Statement = Database.Statement;

export function errorLabel(e: unknown): DbErrorCode {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code.startsWith('SQLITE_CONSTRAINT')) return 'constraint';
  if (code === 'SQLITE_FULL') return 'full';
  if (code.startsWith('SQLITE_IOERR')) return 'ioerr';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'corrupt';
  return 'other';
}

export function isSqliteError(e: unknown): boolean {
  return String((e as { code?: unknown } | null)?.code ?? '').startsWith('SQLITE_');
}

const waitCell = new Int32Array(new SharedArrayBuffer(4));
/** Block the thread (we are inside a synchronous lock wait by design). */
function blockFor(ms: number): void {
  Atomics.wait(waitCell, 0, 0, ms);
}

/** Between synchronous tries of a young wait: 50 µs doubling to 1 ms, ±50 % (unrounded: not backoffMs). */
const POLL: BackoffPolicy = { strategy: 'exponential', baseMs: 0.05, maxMs: 1, jitter: 0.5 };
/** From this age a wait polls every AGED_POLL_MS again… */
export const AGED_AFTER_MS = 2;
/** …until this age: a lock held this long is held, not changing hands, and fast polls would only burn CPU. */
export const AGED_UNTIL_MS = 50;
const AGED_POLL_MS = 0.05;

/**
 * The pause before the next try, ±50 %. Backoff alone is unfair when the lock changes hands all the time
 * (several saturating writers): the waiter that has waited longest polls least often, so the processes that
 * just began waiting, and the holder taking the lock again right after its COMMIT, win its free moments;
 * 1 % of waits took over 7 ms with four writers on two cores. An aged wait polls fast again and becomes the
 * likeliest to find the lock free (p99 about 5 ms, waits over 20 ms 50-70 → 1-4 in 4 s: docs/performance.md,
 * "Lock-wait tail").
 */
export function pollDelayMs(attempt: number, waitedMs: number, random: () => number = Math.random): number {
  const aged = waitedMs >= AGED_AFTER_MS && waitedMs < AGED_UNTIL_MS;
  return jitteredMs(aged ? AGED_POLL_MS : baseDelayMs(POLL, attempt), POLL.jitter, random);
}

export class WriteLock {
  private begin?: Statement;
  private commitStmt?: Statement;
  private rollbackStmt?: Statement;

  /**
   * `onError` receives an error of a BEGIN IMMEDIATE other than SQLITE_BUSY (count it, classify it) and
   * returns what to throw.
   */
  constructor(
    private readonly conn: Connection,
    private readonly busyTimeoutMs: number,
    private readonly onError: (e: unknown) => Error,
  ) {}

  /**
   * BEGIN IMMEDIATE, polling for at most budgetMs while the lock is busy; false if it stayed busy. `onWait`
   * is called when the first try failed (with a budget of 0 too: the lock was found taken); what it returns
   * is called when the wait ends. `waitingSince`: when the caller began waiting (its earlier tries count
   * towards the wait's age).
   */
  take(budgetMs: number, onWait?: () => () => void, waitingSince = performance.now()): boolean {
    // exec, not a prepared statement: SQLite applies PRAGMA busy_timeout when it compiles the statement.
    this.conn.exec('PRAGMA busy_timeout = 0');
    try {
      if (this.tryBegin()) return true;
      // No early return for a budget of 0: the loop below gives up before its first pause, and onWait still
      // hears that a write found the lock taken (the stall clock starts even when nothing may wait).
      const deadline = performance.now() + budgetMs;
      const waited = onWait?.();
      try {
        for (let attempt = 1; ; attempt++) {
          const now = performance.now();
          const left = deadline - now;
          // Stryker disable next-line EqualityOperator: equivalent: `<` differs only when no time at all has
          // passed since the deadline was set, and then makes one more try with no pause.
          if (left <= 0) return false;
          blockFor(Math.min(left, pollDelayMs(attempt, now - waitingSince)));
          if (this.tryBegin()) return true;
        }
      } finally {
        waited?.();
      }
    } finally {
      this.conn.exec(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`);
    }
  }

  commit(): void {
    (this.commitStmt ??= this.conn.prepare('COMMIT')).run();
  }

  /** Roll back if SQLite has not already (it has after SQLITE_FULL and I/O errors); returns a failure. */
  rollback(): unknown {
    if (!this.conn.inTransaction) return undefined;
    try {
      (this.rollbackStmt ??= this.conn.prepare('ROLLBACK')).run();
      return undefined;
    } catch (e) {
      return e;
    }
  }

  /** One BEGIN IMMEDIATE: true when it holds the lock, false on SQLITE_BUSY; other errors are thrown. */
  private tryBegin(): boolean {
    try {
      (this.begin ??= this.conn.prepare('BEGIN IMMEDIATE')).run();
      return true;
    } catch (e) {
      if (errorLabel(e) === 'busy') return false;
      throw this.onError(e);
    }
  }
}
