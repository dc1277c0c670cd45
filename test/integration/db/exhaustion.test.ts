// Write-lock exhaustion ("pool exhaustion"): another process holds the write lock past the synchronous
// budget. db.write throws DbBusyError near the budget (not sooner, and not at a multiple of it: SQLite's busy
// handler is not what decides), counts it, records the lock wait; once writes have had no lock for longer
// than the budget, further db.write calls give up at once instead of blocking the event loop again; the stall
// is reported (health/readyz reason, gauge, one warn line, one info line when it ends); after the release
// writes succeed and the stall is over. With no synchronous budget at all a write makes one try, and the
// stall is still reported.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { DbBusyError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/log.js';
import { createRegistry, dbMetrics, type Registry } from '../../../lib/metrics.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { createCounter, openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

const BUDGET_MS = 400;
const STALL_MS = 300;
const BUSY_TIMEOUT_MS = 10_000;
let dir: string;
let file: string;
let db: Db;
let registry: Registry;
let logs: { level: string; msg: string; stalledMs?: number }[];
const children: Forked<{ locked?: boolean; done?: string }>[] = [];
beforeEach(async () => {
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  logs = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(JSON.parse(chunk.toString()) as (typeof logs)[number]);
      done();
    },
  });
  // busy_timeout far above the budget: the budget, not SQLite's handler, must decide when to give up.
  ({ dir, file, db } = await setUpStateDb({
    busyTimeoutMs: BUSY_TIMEOUT_MS,
    syncWriteBudgetMs: BUDGET_MS,
    writeStallMs: STALL_MS,
    metrics: dbMetrics(registry, ['state']),
    log: createLogger({ daemon: 'test', destination }),
  }));
  createCounter(db, 0);
});
afterEach(() => tearDownStateDb({ dir, db }, children));

async function metricValues(
  name: string,
): Promise<{ value: number; labels: Record<string, unknown>; metricName?: string }[]> {
  return (await registry.getSingleMetric(name)!.get()).values as never;
}

const bump = (c: Db['conn']) => c.prepare('UPDATE counter SET value = value + 1').run();

function timedWrite(): { ms: number; error: unknown } {
  const t0 = performance.now();
  try {
    db.write(bump);
    return { ms: performance.now() - t0, error: undefined };
  } catch (e) {
    return { ms: performance.now() - t0, error: e };
  }
}

describe('write-lock exhaustion', () => {
  it('gives up near the budget, then at once while stalled, reports the stall, and recovers', async () => {
    const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file]);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });

    const first = timedWrite();
    expect(first.error).toBeInstanceOf(DbBusyError);
    expect((first.error as DbBusyError).retryable).toBe(true);
    // Not sooner than the budget, and near it: a waiting write that overshoots by a second (SQLite's busy
    // handler sleeping in 100 ms or 1 s steps, or a retry loop that restarts the budget) fails here.
    expect(first.ms).toBeGreaterThanOrEqual(BUDGET_MS);
    expect(first.ms).toBeLessThan(BUDGET_MS + 250);
    // Writes have now had no lock for longer than the budget: the next write does not block the loop again.
    const second = timedWrite();
    expect(second.error).toBeInstanceOf(DbBusyError);
    expect(second.ms).toBeLessThan(100);
    expect((second.error as Error).message).toMatch(/does not wait on the event loop/);

    expect((await metricValues('contimg_db_busy_timeouts_total'))[0].value).toBe(2);
    const lockWait = await metricValues('contimg_db_lock_wait_seconds');
    const sum = lockWait.find((v) => v.metricName === 'contimg_db_lock_wait_seconds_sum')!.value;
    expect(sum).toBeGreaterThanOrEqual(BUDGET_MS / 1000);
    const stall = (await metricValues('contimg_db_write_stall_seconds'))[0].value;
    expect(stall).toBeGreaterThanOrEqual(BUDGET_MS / 1000);
    // Health (what /readyz runs) reports the stall and why; the warn line is written once.
    expect(db.health()).toMatchObject({ ok: false, error: expect.stringMatching(/write lock stalled/) });
    expect(db.health().ok).toBe(false);
    expect(logs.filter((l) => l.msg.startsWith('write lock unavailable'))).toHaveLength(1);
    // The connection's own busy_timeout (for reads and checkpoints) is restored after the lock waits.
    expect(db.conn.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS);

    holder.child.send('rollback');
    await waitFor(() => holder.messages.some((m) => m.done), { what: 'child released the lock' });
    db.write(bump);
    expect(db.read((c) => c.prepare('SELECT value FROM counter').get())).toEqual({ value: 1 });
    expect(db.health().ok).toBe(true);
    expect((await metricValues('contimg_db_write_stall_seconds'))[0].value).toBe(0);
    const recovered = logs.filter((l) => l.msg.startsWith('write lock available again'));
    expect(recovered).toHaveLength(1);
    expect(recovered[0].stalledMs).toBeGreaterThanOrEqual(BUDGET_MS);
  });

  it('with no synchronous budget a write makes one try, and a lock held elsewhere still starts the stall', async () => {
    const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file]);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });
    // databases.syncWriteBudgetMs: 0 (allowed): db.write never waits on the event loop.
    const eager = openStateDb(file, { syncWriteBudgetMs: 0, writeStallMs: 50 });
    try {
      const t0 = performance.now();
      expect(() => eager.write(bump)).toThrow(DbBusyError);
      expect(performance.now() - t0).toBeLessThan(50);
      // The write found the lock taken: that is when a stall starts, waited for or not.
      await waitFor(() => !eager.health().ok, { what: 'the stall reported', timeoutMs: 2_000 });
      expect(eager.health()).toMatchObject({ error: expect.stringMatching(/write lock stalled/) });
      holder.child.send('rollback');
      await waitFor(() => holder.messages.some((m) => m.done), { what: 'child released the lock' });
      eager.write(bump);
      expect(eager.health().ok).toBe(true);
    } finally {
      eager.close();
    }
  });

  it('does not report a wait shorter than writeStallMs as a stall', async () => {
    const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file, '150']);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });
    // Blocks until the child rolls back by itself (~150 ms), well inside the budget.
    db.write(bump);
    expect(db.read((c) => c.prepare('SELECT value FROM counter').get())).toEqual({ value: 1 });
    expect(db.health().ok).toBe(true);
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(0);
  });

  it('a lock that changed hands is contention, not a stall: the next write waits its full budget again', async () => {
    const first = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file]);
    children.push(first);
    await waitFor(() => first.messages.some((m) => m.locked), { what: 'first peer holds the lock' });
    expect(timedWrite().error).toBeInstanceOf(DbBusyError);
    // A second peer queues behind the first and holds the lock 300 ms after it gets it.
    const second = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file, '300']);
    children.push(second);
    first.child.send('commit');
    await waitFor(() => second.messages.some((m) => m.locked), { what: 'second peer took the lock' });
    // The first peer committed, so writes are moving: this write must wait for the lock (≈ 300 ms), not give
    // up after the stalled 10 ms as it would if a busy peer counted as a stuck one.
    const r = timedWrite();
    expect(r.error).toBeUndefined();
    expect(db.health().ok).toBe(true);
  });
});
