// platform.md §8.4 test 11 ("pool exhaustion"): another process holds the write lock past the write
// budget; db.write throws DbBusyError after the budget (not sooner), counts it, records the lock wait,
// reports the database degraded in health() (/readyz), and succeeds once the lock is released.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { DbBusyError } from '../../../lib/errors.js';
import { createRegistry, dbMetrics, type Registry } from '../../../lib/metrics.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { createCounter, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

const BUDGET_MS = 400;
const BUSY_TIMEOUT_MS = 10_000;
let dir: string;
let file: string;
let db: Db;
let registry: Registry;
const children: Forked<{ locked?: boolean; done?: string }>[] = [];
beforeEach(async () => {
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  // busy_timeout far above the budget: the budget, not SQLite's handler, must decide when to give up.
  ({ dir, file, db } = await setUpStateDb({
    busyTimeoutMs: BUSY_TIMEOUT_MS,
    writeBudgetMs: BUDGET_MS,
    metrics: dbMetrics(registry, ['state']),
  }));
  createCounter(db, 0);
});
afterEach(() => tearDownStateDb({ dir, db }, children));

async function metricValues(
  name: string,
): Promise<{ value: number; labels: Record<string, unknown>; metricName?: string }[]> {
  return (await registry.getSingleMetric(name)!.get()).values as never;
}

describe('write-lock exhaustion', () => {
  it('throws retryable DbBusyError after roughly the budget, counts it, then succeeds after release', async () => {
    const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file]);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });

    const t0 = performance.now();
    let caught: unknown;
    try {
      db.write((c) => c.prepare('UPDATE counter SET value = value + 1').run());
    } catch (e) {
      caught = e;
    }
    const waited = performance.now() - t0;
    expect(caught).toBeInstanceOf(DbBusyError);
    expect((caught as DbBusyError).retryable).toBe(true);
    // Not sooner than the budget; and bounded by it rather than by the (25 times longer) busy_timeout.
    expect(waited).toBeGreaterThanOrEqual(BUDGET_MS);
    expect(waited).toBeLessThan(BUSY_TIMEOUT_MS);
    expect((await metricValues('contimg_db_busy_timeouts_total'))[0].value).toBe(1);
    const lockWait = await metricValues('contimg_db_lock_wait_seconds');
    const sum = lockWait.find((v) => v.metricName === 'contimg_db_lock_wait_seconds_sum')!.value;
    expect(sum).toBeGreaterThanOrEqual(BUDGET_MS / 1000);
    // Health (what /readyz runs) reports the database degraded until a write succeeds again.
    expect(db.health()).toMatchObject({ ok: false, error: expect.stringMatching(/write lock exhausted/) });
    // The connection's own busy_timeout is restored after the capped attempts.
    expect(db.conn.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS);

    holder.child.send('rollback');
    await waitFor(() => holder.messages.some((m) => m.done), { what: 'child released the lock' });
    db.write((c) => c.prepare('UPDATE counter SET value = value + 1').run());
    expect(db.read((c) => c.prepare('SELECT value FROM counter').get())).toEqual({ value: 1 });
    expect(db.health().ok).toBe(true);
  });
});
