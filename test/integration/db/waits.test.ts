// Waiting for locks, and what the waits leave behind: writeAsync and readAsync back off between tries (a
// handful of tries over a second, not a busy loop), a reader gets its data soon after the lock goes even with a
// long budget, an error other than busy is not retried; a write that gave up says so exactly (message, details,
// counters); every wait is over once it ends (health counts only the writes still waiting); db.write polls
// fast once its wait has aged and slowly once the lock is plainly held; and the durations the histograms
// record are seconds, of the right span.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDb, type Db } from '../../../lib/db/index.js';
import { AGED_AFTER_MS, AGED_UNTIL_MS } from '../../../lib/db/write-lock.js';
import { DbBusyError } from '../../../lib/errors.js';
import { createRegistry, dbMetrics, type Registry } from '../../../lib/metrics.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { createCounter, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let file: string;
let db: Db;
let registry: Registry;
const children: Forked<{ locked?: boolean; done?: string }>[] = [];
beforeEach(async () => {
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  ({ dir, file, db } = await setUpStateDb({
    writeStallMs: 250,
    metrics: dbMetrics(registry, ['state', 'pipeline']),
  }));
  createCounter(db, 0);
});
afterEach(() => tearDownStateDb({ dir, db }, children));

const bump = (c: Db['conn']) => c.prepare('UPDATE counter SET value = value + 1').run();
const counter = () => db.read((c) => c.prepare('SELECT value FROM counter').get());

/** Hold the write lock on another connection of this process until `ms` have passed. */
function lockFor(ms: number): Promise<void> {
  const other = new Database(file);
  other.exec('BEGIN IMMEDIATE');
  return new Promise((resolve) =>
    setTimeout(() => {
      other.exec('ROLLBACK');
      other.close();
      resolve();
    }, ms),
  );
}

type Sample = { metricName?: string; value: number; labels: Record<string, unknown> };
async function samples(name: string): Promise<Sample[]> {
  return (await registry.getSingleMetric(name)!.get()).values as Sample[];
}
async function histogram(
  name: string,
  labels: Record<string, string>,
): Promise<{ sum: number; count: number }> {
  const mine = (await samples(name)).filter((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  const one = (suffix: string) => mine.find((s) => s.metricName === `${name}_${suffix}`)?.value ?? NaN;
  return { sum: one('sum'), count: one('count') };
}

/** A rollback-journal database (as the pipeline's can be) that another connection locks EXCLUSIVE. */
function lockedForReading(opts: Partial<Parameters<typeof openDb>[0]> = {}): {
  ro: Db;
  locker: Database.Database;
} {
  const p = `${dir}/rollback-journal.sqlite3`;
  const setup = new Database(p);
  setup.exec('CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (7)');
  setup.close();
  const ro = openDb({ name: 'pipeline', path: p, readonly: true, busyTimeoutMs: 5000, ...opts });
  const locker = new Database(p);
  locker.exec('BEGIN EXCLUSIVE');
  return { ro, locker };
}
const readT = (c: Db['conn']) => c.prepare('SELECT v FROM t').get();

describe('writeAsync waits', () => {
  it('backs off between tries: a lock held for a second costs tens of tries, not hundreds', async () => {
    const tries = vi.spyOn(db.conn, 'exec');
    const released = lockFor(1000);
    await db.writeAsync(bump);
    await released;
    // Each try sets busy_timeout to 0 before its BEGIN IMMEDIATE (write-lock.ts).
    const n = tries.mock.calls.filter(([sql]) => sql === 'PRAGMA busy_timeout = 0').length;
    expect(n).toBeGreaterThan(3);
    expect(n).toBeLessThan(120);
    expect(counter()).toEqual({ value: 1 });
  });

  it('inside a write body it is a savepoint of that write: no lock to wait for, rolled back with it', async () => {
    let inner: Promise<unknown> | undefined;
    db.write((c) => {
      bump(c);
      inner = db.writeAsync(bump);
    });
    await inner;
    expect(counter()).toEqual({ value: 2 });
    expect(() =>
      db.write((c) => {
        bump(c);
        inner = db.writeAsync(bump);
        throw new Error('undo both');
      }),
    ).toThrow('undo both');
    await inner;
    expect(counter()).toEqual({ value: 2 });
  });

  it('gives up saying how long it waited against which budget, counted as busy, its wait observed', async () => {
    const released = lockFor(1500);
    const err = await db.writeAsync(bump, { budgetMs: 300 }).catch((e: unknown) => e);
    await released;
    expect(err).toBeInstanceOf(DbBusyError);
    const e = err as DbBusyError;
    // Not the stalled form ("…; writes have had no lock for …"): that one is db.write()'s.
    expect(e.message).toMatch(/^state: write lock busy for \d+ ms \(budget 300 ms\)$/);
    expect(Object.keys(e.details).sort()).toEqual(['db', 'stalledMs', 'waitedMs']);
    expect(e.details.db).toBe('state');
    expect(e.details.waitedMs).toBeGreaterThanOrEqual(300);
    expect(e.details.waitedMs).toBeLessThan(10_000);
    expect(e.details.stalledMs).toBeGreaterThanOrEqual(300);
    const errors = (await samples('contimg_db_errors_total')).filter((s) => s.value > 0);
    expect(errors.map((s) => [s.labels, s.value])).toEqual([[{ db: 'state', code: 'busy' }, 1]]);
    const wait = await histogram('contimg_db_lock_wait_seconds', { db: 'state' });
    expect(wait.count).toBe(1);
    expect(wait.sum).toBeGreaterThanOrEqual(0.29);
    expect(wait.sum).toBeLessThan(10);
  });

  it('a wait that ended is no longer counted: health names only the writes waiting now', async () => {
    // A first wait, by writeAsync, and a second, by db.write (a child releases the lock while it blocks).
    let released = lockFor(100);
    await db.writeAsync(bump);
    await released;
    const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file, '400']);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });
    db.write(bump);
    expect(counter()).toEqual({ value: 2 });
    // Now a third write waits past writeStallMs: it alone is waiting.
    released = lockFor(1500);
    const pending = db.writeAsync(bump);
    await waitFor(() => !db.health().ok, { what: 'health reports the stall' });
    expect(db.health().error).toMatch(/ \(1 waiting, 0 gave up\); /);
    await released;
    await pending;
    expect(db.health()).toMatchObject({ ok: true });
  });

  it('records lock waits and write durations in seconds', async () => {
    const released = lockFor(300);
    await db.writeAsync(bump);
    await released;
    const wait = await histogram('contimg_db_lock_wait_seconds', { db: 'state' });
    expect(wait.count).toBe(1);
    expect(wait.sum).toBeGreaterThanOrEqual(0.25);
    expect(wait.sum).toBeLessThan(10);
    const cell = new Int32Array(new SharedArrayBuffer(4));
    db.write(() => Atomics.wait(cell, 0, 0, 100));
    const tx = await histogram('contimg_db_tx_seconds', { db: 'state', kind: 'write' });
    expect(tx.count).toBe(2);
    expect(tx.sum).toBeGreaterThanOrEqual(0.09);
    expect(tx.sum).toBeLessThan(10);
  });

  it('the stall gauge is in seconds', async () => {
    const released = lockFor(1000);
    const pending = db.writeAsync(bump);
    await waitFor(() => db.stallSeconds() >= 0.3, { what: 'a stall of 0.3 s' });
    expect(db.stallSeconds()).toBeLessThan(30);
    await released;
    await pending;
    expect(db.stallSeconds()).toBe(0);
  });
});

describe('db.write waits', () => {
  it('polls fast once its wait has aged and slowly again once the lock is plainly held elsewhere', async () => {
    const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file, '300']);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'the child holds the write lock' });
    // Every try of BEGIN IMMEDIATE, timed (the private statement runner, as bench/db-contention does).
    const lock = (db as unknown as { lock: { tryBegin(): boolean } }).lock;
    const tries: number[] = [];
    const tryBegin = lock.tryBegin.bind(lock);
    lock.tryBegin = () => {
      tries.push(performance.now());
      return tryBegin();
    };
    const start = performance.now();
    db.write(bump); // blocks until the child rolls back by itself, 300 ms after it took the lock
    expect(counter()).toEqual({ value: 1 });
    const gaps = (from: number, to: number): number[] => {
      const at = tries.map((t) => t - start).filter((t) => t >= from && t < to);
      return at
        .slice(1)
        .map((t, i) => t - at[i])
        .sort((a, b) => a - b);
    };
    const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)];
    // Aged (2-50 ms): 50 µs ± 50 % plus the wake-up; plainly held (from 100 ms): 1 ms ± 50 %. Medians, so
    // a moment off the core does not decide; a margin of 2 for the wake-ups of a loaded machine.
    const aged = gaps(AGED_AFTER_MS + 3, AGED_UNTIL_MS - 5);
    const held = gaps(100, 250);
    expect(aged.length).toBeGreaterThan(10);
    expect(held.length).toBeGreaterThan(10);
    expect(median(aged)).toBeLessThan(median(held) / 2);
    expect(median(held)).toBeGreaterThanOrEqual(0.5);
  });
});

describe('readAsync waits', () => {
  it('backs off between tries: a lock held for a second costs tens of tries, not hundreds', async () => {
    const { ro, locker } = lockedForReading();
    try {
      const pragmas = vi.spyOn(ro.reader, 'pragma');
      setTimeout(() => locker.exec('ROLLBACK'), 1000);
      expect(await ro.readAsync(readT)).toEqual({ v: 7 });
      // Each try lowers busy_timeout to the slice (2 ms), then restores it.
      const n = pragmas.mock.calls.filter(([p]) => p === 'busy_timeout = 2').length;
      expect(n).toBeGreaterThan(3);
      expect(n).toBeLessThan(120);
    } finally {
      locker.close();
      ro.close();
    }
  });

  it('reads soon after the lock goes, however long its budget', async () => {
    const { ro, locker } = lockedForReading();
    try {
      setTimeout(() => locker.exec('ROLLBACK'), 300);
      const t0 = performance.now();
      expect(await ro.readAsync(readT, { budgetMs: 60_000 })).toEqual({ v: 7 });
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      locker.close();
      ro.close();
    }
  });

  it('does not retry an error other than busy', async () => {
    const { ro, locker } = lockedForReading();
    locker.exec('ROLLBACK');
    try {
      let runs = 0;
      const err = await ro
        .readAsync(
          () => {
            runs++;
            throw new Error('not a lock');
          },
          { budgetMs: 2000 },
        )
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ message: 'not a lock' });
      expect(runs).toBe(1);
    } finally {
      locker.close();
      ro.close();
    }
  });

  it('a budget of 0 makes one try: the clock it measures with stands still here', async () => {
    const { ro, locker } = lockedForReading({ clock: { now: () => 0, monotonic: () => 1000 } });
    try {
      const err = await ro.readAsync(readT, { budgetMs: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DbBusyError);
      expect((err as Error).message).toBe('pipeline: locked for 0 ms (read budget 0 ms)');
    } finally {
      locker.close();
      ro.close();
    }
  });
});
