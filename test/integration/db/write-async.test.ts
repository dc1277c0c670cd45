// db.writeAsync: while another process holds the write lock, the wait yields to the event loop (timers keep
// firing), the write lands once the lock is released, the budget and the abort signal are honoured, a long
// wait is reported as a stall while it lasts, and the body runs once. db.readAsync likewise for a file that
// another connection locks for reading.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../../lib/db/index.js';
import { DbBusyError } from '../../../lib/errors.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { createCounter, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let db: Db;
let file: string;
const children: Forked<{ locked?: boolean; done?: string }>[] = [];
beforeEach(async () => {
  ({ dir, file, db } = await setUpStateDb({ busyTimeoutMs: 5000, writeBudgetMs: 15_000, writeStallMs: 250 }));
  createCounter(db, 0);
});
afterEach(() => tearDownStateDb({ dir, db }, children));

async function holdLock(): Promise<Forked<{ locked?: boolean; done?: string }>> {
  const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file]);
  children.push(holder);
  await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });
  return holder;
}

const bump = (c: Db['conn']) => c.prepare('UPDATE counter SET value = value + 1').run();

describe('db.writeAsync', () => {
  it('keeps the event loop turning while the lock is held elsewhere, then writes once', async () => {
    const holder = await holdLock();
    let ticks = 0;
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const t = performance.now();
      maxGap = Math.max(maxGap, t - last);
      last = t;
      ticks++;
    }, 10);
    const pending = db.writeAsync(bump);
    await waitFor(() => ticks >= 30, { what: 'timers fire while the write waits' });
    holder.child.send('rollback');
    await pending;
    clearInterval(timer);
    expect(db.read((c) => c.prepare('SELECT value FROM counter').get())).toEqual({ value: 1 });
    // One try holds the thread for at most the slice (2 ms) plus scheduling noise on a loaded machine.
    expect(maxGap).toBeLessThan(1000);
    expect(db.conn.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('gives up with a retryable DbBusyError after its budget, and rejects at once when aborted', async () => {
    await holdLock();
    const t0 = performance.now();
    const err = await db.writeAsync(bump, { budgetMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DbBusyError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    expect(db.health().ok).toBe(false);

    const ac = new AbortController();
    const waiting = db.writeAsync(bump, { budgetMs: Infinity, signal: ac.signal }).catch((e: unknown) => e);
    ac.abort(new Error('stop waiting'));
    expect(await waiting).toMatchObject({ message: 'stop waiting' });
    expect(db.read((c) => c.prepare('SELECT value FROM counter').get())).toEqual({ value: 0 });
  });

  it('reports the stall while it waits past writeStallMs, and not once it has the lock', async () => {
    const holder = await holdLock();
    const pending = db.writeAsync(bump);
    // No write has given up: the waiting write alone is the stall.
    await waitFor(() => !db.health().ok, { what: 'health reports the stall' });
    expect(db.health().error).toMatch(/write lock stalled: .* \(1 waiting, 0 gave up\)/);
    expect(db.stallSeconds()).toBeGreaterThanOrEqual(0.25);
    holder.child.send('rollback');
    await pending;
    expect(db.health().ok).toBe(true);
    expect(db.stallSeconds()).toBe(0);
  });

  it('runs the body once when it fails with SQLITE_BUSY of its own (no retry of the body)', async () => {
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    let runs = 0;
    try {
      // Inside the body we hold the write lock, so the other connection's write is refused with SQLITE_BUSY.
      const err = await db
        .writeAsync((c) => {
          runs++;
          bump(c);
          other.exec('BEGIN IMMEDIATE');
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DbBusyError);
      expect(runs).toBe(1);
      expect(db.read((c) => c.prepare('SELECT value FROM counter').get())).toEqual({ value: 0 });
    } finally {
      other.close();
    }
  });

  it('throws the body’s own error without retrying and rolls the transaction back', async () => {
    let runs = 0;
    const err = await db
      .writeAsync((c) => {
        runs++;
        bump(c);
        throw new Error('domain says no');
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'domain says no' });
    expect(runs).toBe(1);
    expect(db.read((c) => c.prepare('SELECT value FROM counter').get())).toEqual({ value: 0 });
  });
});

describe('db.readAsync', () => {
  /** A rollback-journal database (as the pipeline's can be) that another connection locks EXCLUSIVE. */
  function lockedForReading(): { ro: Db; locker: Database.Database } {
    const p = `${dir}/rollback-journal.sqlite3`;
    const setup = new Database(p);
    setup.exec('CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (7)');
    setup.close();
    const ro = openDb({ name: 'pipeline', path: p, readonly: true, busyTimeoutMs: 5000 });
    const locker = new Database(p);
    locker.exec('BEGIN EXCLUSIVE');
    return { ro, locker };
  }
  const readT = (c: Db['conn']) => c.prepare('SELECT v FROM t').get();

  it('gives up after its read budget (not the busy timeout), and leaves the busy timeout as it was', async () => {
    const { ro, locker } = lockedForReading();
    try {
      const t0 = performance.now();
      const err = await ro.readAsync(readT, { budgetMs: 300 }).catch((e: unknown) => e);
      const waited = performance.now() - t0;
      expect(err).toBeInstanceOf(DbBusyError);
      expect((err as Error).message).toMatch(/^pipeline: locked for \d+ ms \(read budget 300 ms\)$/);
      expect((err as DbBusyError).details).toMatchObject({ db: 'pipeline' });
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(waited).toBeLessThan(4000);
      expect(ro.reader.pragma('busy_timeout', { simple: true })).toBe(5000);
    } finally {
      locker.close();
      ro.close();
    }
  });

  it('keeps the event loop turning while it waits, reads once the lock is gone, and stops when aborted', async () => {
    const { ro, locker } = lockedForReading();
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const pending = ro.readAsync(readT);
      await waitFor(() => ticks >= 20, { what: 'timers fire while the read waits' });
      locker.exec('ROLLBACK');
      expect(await pending).toEqual({ v: 7 });
      clearInterval(timer);
      locker.exec('BEGIN EXCLUSIVE');
      const ac = new AbortController();
      const waiting = ro.readAsync(readT, { budgetMs: Infinity, signal: ac.signal }).catch((e: unknown) => e);
      ac.abort(new Error('stop reading'));
      expect(await waiting).toMatchObject({ message: 'stop reading' });
    } finally {
      locker.close();
      ro.close();
    }
  });
});
