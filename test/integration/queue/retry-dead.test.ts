// A handler that always throws is retried on the backoff schedule (run_at deltas
// within the jitter bounds), ends dead with last_error; redrive requeues it; outcomes{dead} increments.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseDelayMs, type BackoffPolicy } from '../../../lib/backoff.js';
import { ManualClock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/index.js';
import { PermanentError, RetryableError } from '../../../lib/errors.js';
import { createRegistry, type Registry } from '../../../lib/metrics.js';
import { queueMetrics, runWorker, Settle, SqliteQueueStore } from '../../../lib/queue/index.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

const POLICY: BackoffPolicy = { strategy: 'exponential', baseMs: 40, maxMs: 200, jitter: 0.25 };
let dir: string;
let db: Db;
let registry: Registry;
beforeEach(async () => {
  ({ dir, db } = await setUpStateDb());
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
});
afterEach(() => tearDownStateDb({ dir, db }));

async function outcome(name: string): Promise<number> {
  const m = await registry.getSingleMetric('contimg_queue_outcomes_total')!.get();
  return m.values.find((v) => v.labels.outcome === name && v.labels.queue === 'q')?.value ?? NaN;
}

describe('retry, dead letter, redrive', () => {
  it('the store schedules each retry within the jitter bounds of the policy', () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const store = new SqliteQueueStore(db, { clock, retryPolicy: POLICY });
    const { job } = store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 6 });
    for (let attempt = 1; attempt < 6; attempt++) {
      const [c] = store.claim({ queue: 'q', owner: 'w', leaseMs: 1000 });
      expect(c.attempts).toBe(attempt);
      const failedAt = clock.now();
      const { state, runAt } = store.fail(c.lease, new RetryableError(`try ${attempt}`), { retryable: true });
      expect(state).toBe('queued');
      const base = baseDelayMs(POLICY, attempt);
      expect(runAt - failedAt).toBeGreaterThanOrEqual(Math.floor(base * (1 - POLICY.jitter)));
      expect(runAt - failedAt).toBeLessThanOrEqual(Math.ceil(base * (1 + POLICY.jitter)));
      // Not claimable before its time.
      clock.set(runAt - 1);
      expect(store.claim({ queue: 'q', owner: 'w', leaseMs: 1000 })).toEqual([]);
      clock.set(runAt);
    }
    const [last] = store.claim({ queue: 'q', owner: 'w', leaseMs: 1000 });
    expect(store.fail(last.lease, new RetryableError('try 6'), { retryable: true }).state).toBe('dead');
    expect(store.get(job.id)).toMatchObject({
      state: 'dead',
      attempts: 6,
      lastError: 'RetryableError [RETRYABLE]: try 6',
    });
  });

  it('a worker retries an always-failing handler until dead; redrive runs it again', async () => {
    const metrics = queueMetrics(registry, ['q'], ['flaky']);
    const store = new SqliteQueueStore(db, { metrics, retryPolicy: POLICY });
    const { job } = store.enqueue({ queue: 'q', kind: 'flaky', maxAttempts: 3 });
    const seen: number[] = [];
    let succeed = false;
    const ac = new AbortController();
    const worker = runWorker({
      db,
      store,
      queue: 'q',
      signal: ac.signal,
      metrics,
      pollMs: 10,
      maxPollMs: 50,
      handler: async (j) => {
        seen.push(j.attempts);
        if (!succeed) throw new RetryableError('channel down');
        return { attempts: j.attempts };
      },
    });
    await waitFor(() => store.get(job.id)?.state === 'dead', { what: 'job dead' });
    expect(seen).toEqual([1, 2, 3]);
    expect(store.get(job.id)?.lastError).toBe('RetryableError [RETRYABLE]: channel down');
    expect(await outcome('retry')).toBe(2);
    expect(await outcome('dead')).toBe(1);

    succeed = true;
    expect(store.redrive(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
    await waitFor(() => store.get(job.id)?.state === 'done', { what: 'redriven job done' });
    expect(store.get(job.id)).toMatchObject({ attempts: 1, result: { attempts: 1 } });
    expect(await outcome('done')).toBe(1);
    ac.abort();
    expect(await worker).toMatchObject({ claimed: 4, retried: 2, dead: 1, done: 1, errors: 0 });
  });

  it('a non-retryable error goes dead on the first attempt', async () => {
    const metrics = queueMetrics(registry, ['q']);
    const store = new SqliteQueueStore(db, { metrics, retryPolicy: POLICY });
    const { job } = store.enqueue({ queue: 'q', kind: 'bad', maxAttempts: 5 });
    const ac = new AbortController();
    const worker = runWorker({
      db,
      store,
      queue: 'q',
      signal: ac.signal,
      metrics,
      pollMs: 10,
      handler: async () => {
        throw new PermanentError('corrupt input file');
      },
    });
    await waitFor(() => store.get(job.id)?.state === 'dead', { what: 'job dead' });
    expect(store.get(job.id)).toMatchObject({
      attempts: 1,
      lastError: 'PermanentError [PERMANENT]: corrupt input file',
    });
    ac.abort();
    await worker;
    expect(await outcome('dead')).toBe(1);
  });

  it("a handler's own retry policy (RETRY_NOW) is honoured over the worker's and the store's", async () => {
    const metrics = queueMetrics(registry, ['q']);
    const hour = { strategy: 'constant', baseMs: 3_600_000, maxMs: 3_600_000, jitter: 0 } as const;
    const retryNow = { strategy: 'constant', baseMs: 0, maxMs: 0, jitter: 0 } as const;
    const store = new SqliteQueueStore(db, { metrics, retryPolicy: hour });
    const { job } = store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 3 });
    const ac = new AbortController();
    const worker = runWorker({
      db,
      store,
      queue: 'q',
      signal: ac.signal,
      metrics,
      retryPolicy: hour,
      pollMs: 10,
      maxPollMs: 50,
      handler: async (j) =>
        j.attempts === 1
          ? Settle.failed(new Error('the daemon died under it'), { retryable: true, retryPolicy: retryNow })
          : 'second time lucky',
    });
    await waitFor(() => store.get(job.id)?.state === 'done', { timeoutMs: 5000, what: 'retried at once' });
    expect(store.get(job.id)).toMatchObject({ attempts: 2, result: 'second time lucky' });
    expect(await outcome('retry')).toBe(1);
    ac.abort();
    expect(await worker).toMatchObject({ retried: 1, done: 1 });
  });
});
