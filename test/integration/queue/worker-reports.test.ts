// What the worker tells operators: its log lines (message and fields, as journald shows them), its metrics
// (job durations, queue gauges while it runs), its lease owner id.
import os from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/index.js';
import { PermanentError, RetryableError, ShutdownError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import { createRegistry, type Registry } from '../../../lib/metrics.js';
import {
  queueMetrics,
  runWorker,
  SqliteQueueStore,
  type HandlerContext,
  type WorkerOptions,
} from '../../../lib/queue/index.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { captureLog, type LogLine } from '../../helpers/logs.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let db: Db;
let registry: Registry;
let ac: AbortController;
let lines: LogLine[];
let log: Logger;
beforeEach(async () => {
  ({ dir, db } = await setUpStateDb());
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  ac = new AbortController();
  ({ log, lines } = captureLog('debug'));
});
afterEach(() => {
  ac.abort();
  tearDownStateDb({ dir, db });
});

const said = (msg: string): LogLine[] => lines.filter((l) => l.msg === msg);
const QUICK = { strategy: 'constant', baseMs: 10, maxMs: 10, jitter: 0 } as const;

function start(
  store: SqliteQueueStore,
  handler: WorkerOptions['handler'],
  opts: Partial<WorkerOptions> = {},
) {
  return runWorker({
    db,
    store,
    queue: 'q',
    signal: ac.signal,
    pollMs: 10,
    maxPollMs: 50,
    log,
    handler,
    ...opts,
  });
}

describe('worker log lines', () => {
  it('start, idle, a retry, a job dead for good, stop: each with its fields', async () => {
    const store = new SqliteQueueStore(db, { retryPolicy: QUICK });
    const { job } = store.enqueue({ queue: 'q', kind: 'flaky', maxAttempts: 2 });
    const w = start(
      store,
      async (j) => {
        throw j.attempts === 1 ? new RetryableError('channel down') : new PermanentError('bad input');
      },
      { concurrency: 2, owner: 'host:1:test' },
    );
    await waitFor(() => store.get(job.id)?.state === 'dead', { what: 'job dead' });
    await waitFor(() => said('queue empty; idling').length > 0, { what: 'idle line' });
    ac.abort();
    const summary = await w;
    const context = { component: 'queue-worker', queue: 'q' };
    expect(said('worker started')).toEqual([
      expect.objectContaining({ ...context, level: 'info', owner: 'host:1:test', concurrency: 2 }),
    ]);
    expect(said('job failed; will retry')).toEqual([
      expect.objectContaining({
        ...context,
        level: 'warn',
        jobId: job.id,
        kind: 'flaky',
        attempt: 1,
        retryable: true,
        state: 'queued',
        runAt: expect.any(Number),
        err: expect.objectContaining({ message: 'channel down' }),
      }),
    ]);
    expect(said('job failed for good (dead)')).toEqual([
      expect.objectContaining({ attempt: 2, retryable: false, state: 'dead', err: expect.anything() }),
    ]);
    expect(said('queue empty; idling')[0]).toMatchObject({ level: 'debug', idleMs: 10 });
    expect(said('worker stopped')).toEqual([expect.objectContaining({ ...context, ...summary })]);
    expect(summary).toMatchObject({ claimed: 2, retried: 1, dead: 1 });
    // Nothing was in flight at the stop: no drain.
    expect(said('draining in-flight jobs')).toEqual([]);
  });

  it('a drain that finishes in time: what was in flight, and no deadline', async () => {
    const store = new SqliteQueueStore(db);
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    let finish: () => void = () => {};
    const w = start(store, () => new Promise((resolve) => (finish = () => resolve('ok'))), {
      drainMs: 60_000,
    });
    await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
    ac.abort();
    setTimeout(() => finish(), 20);
    expect(await w).toMatchObject({ done: 1, released: 0 });
    expect(said('draining in-flight jobs')).toEqual([
      expect.objectContaining({ inflight: 1, drainMs: 60_000 }),
    ]);
    expect(said('drain deadline passed; aborting unfinished jobs')).toEqual([]);
  });

  it('a drain that runs out: what is in flight, the deadline, the abort reason', async () => {
    const store = new SqliteQueueStore(db);
    store.enqueue({ queue: 'q', kind: 'k' });
    const reasons: unknown[] = [];
    const w = start(
      store,
      (_job, ctx: HandlerContext) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            reject(ctx.signal.reason);
          }),
        ),
      { drainMs: 30 },
    );
    await waitFor(() => store.list({ state: 'running' }).length === 1, { what: 'job running' });
    ac.abort();
    expect(await w).toMatchObject({ released: 1 });
    expect(said('draining in-flight jobs')).toEqual([expect.objectContaining({ inflight: 1, drainMs: 30 })]);
    expect(said('drain deadline passed; aborting unfinished jobs')).toEqual([
      expect.objectContaining({ level: 'warn', inflight: 1 }),
    ]);
    expect(reasons).toEqual([expect.any(ShutdownError)]);
    expect((reasons[0] as Error).message).toBe('worker shutting down');
  });

  it.each(['rejects', 'resolves'] as const)(
    'a lost lease, and a handler that then %s: one lost lease, logged where found and where discarded',
    async (ending) => {
      const metrics = queueMetrics(registry, ['q']);
      const store = new SqliteQueueStore(db, { metrics });
      const { job } = store.enqueue({ queue: 'q', kind: 'k' });
      const w = start(
        store,
        (_job, ctx: HandlerContext) =>
          new Promise((resolve, reject) =>
            ctx.signal.addEventListener('abort', () =>
              ending === 'rejects' ? reject(new Error('stopped')) : resolve('finished anyway'),
            ),
          ),
        { leaseMs: 90, metrics },
      );
      await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
      store.cancel(job.id);
      const discarded = 'lease lost: another worker owns this job now; result discarded';
      await waitFor(() => said(discarded).length > 0, { what: 'outcome discarded' });
      ac.abort();
      expect(await w).toMatchObject({ leaseLost: 1, errors: 0, done: 0 });
      expect(said('lease lost while running (cancelled or re-claimed); aborting the handler')).toHaveLength(
        1,
      );
      expect(said(discarded)).toEqual([
        expect.objectContaining({ jobId: job.id, err: expect.objectContaining({ code: 'LEASE_LOST' }) }),
      ]);
      // Found once by the heartbeat; nothing is written for the outcome, so nothing else is refused.
      const lost = (await registry.getSingleMetric('contimg_queue_lease_lost_total')!.get()).values[0].value;
      expect(lost).toBe(1);
      expect(store.get(job.id)).toMatchObject({ state: 'cancelled', result: null });
    },
  );

  it('a claim that fails is logged with its error, and so is a failing gauge refresh', async () => {
    const metrics = queueMetrics(registry, ['q']);
    const store = new SqliteQueueStore(db, { metrics });
    db.conn.exec('ALTER TABLE jobs RENAME TO jobs_away');
    const w = start(store, async () => 'ok', { metrics, gaugeEveryMs: 20 });
    await waitFor(() => said('queue gauge refresh failed').length > 0, { what: 'gauge failure logged' });
    db.conn.exec('ALTER TABLE jobs_away RENAME TO jobs');
    ac.abort();
    const summary = await w;
    expect(said('claim failed; backing off')[0]).toMatchObject({
      level: 'error',
      err: expect.objectContaining({ message: expect.stringMatching(/no such table/) }),
    });
    // The loop's own line names it after the queue (an operator greps the journal for `queue:q`).
    expect(said('loop tick failed; backing off')[0]).toMatchObject({
      level: 'error',
      loop: 'queue:q',
      failures: 1,
    });
    expect(said('queue gauge refresh failed')[0]).toMatchObject({ level: 'error', err: expect.anything() });
    const errors = (await registry.getSingleMetric('contimg_queue_worker_errors_total')!.get()).values;
    expect(errors).toEqual([expect.objectContaining({ labels: { queue: 'q' }, value: summary.errors })]);
    expect(summary.errors).toBeGreaterThanOrEqual(2);
  });
});

describe('worker metrics and identity', () => {
  it('observes each job duration on the worker clock, per queue and kind', async () => {
    const clock = new ManualClock(Date.now());
    clock.advance(10_000); // a monotonic reading far from 0, as on a real host
    const metrics = queueMetrics(registry, ['q'], ['k']);
    const store = new SqliteQueueStore(db, { metrics });
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const w = start(
      store,
      async () => {
        clock.advance(2_500);
        return 'ok';
      },
      { clock, metrics },
    );
    await waitFor(() => store.get(job.id)?.state === 'done', { what: 'job done' });
    ac.abort();
    await w;
    const values = (await registry.getSingleMetric('contimg_queue_job_duration_seconds')!.get()).values as {
      value: number;
      labels: Record<string, unknown>;
      metricName?: string;
    }[];
    const series = (suffix: string) =>
      values.find(
        (v) => v.metricName === `contimg_queue_job_duration_seconds${suffix}` && v.labels.kind === 'k',
      );
    expect(series('_sum')).toMatchObject({ labels: { queue: 'q', kind: 'k' }, value: 2.5 });
    expect(series('_count')?.value).toBe(1);
  });

  it('keeps the queue gauges current while it runs, not only when it stops', async () => {
    const metrics = queueMetrics(registry, ['q']);
    const store = new SqliteQueueStore(db, { metrics });
    const w = start(store, async () => 'ok', { metrics, gaugeEveryMs: 20 });
    // Two jobs due later: queued, not claimable; only a gauge refresh can show them.
    store.enqueue({ queue: 'q', kind: 'k', runAt: Date.now() + 3_600_000 });
    store.enqueue({ queue: 'q', kind: 'k', runAt: Date.now() + 3_600_000 });
    const queued = async (): Promise<number> =>
      (await registry.getSingleMetric('contimg_queue_jobs')!.get()).values.find(
        (v) => v.labels.queue === 'q' && v.labels.state === 'queued',
      )!.value;
    await waitFor(async () => (await queued()) === 2, { what: 'gauge refreshed while running' });
    ac.abort();
    await w;
  });

  it("zeroes its own queue's gauges while the queue has no rows", async () => {
    const metrics = queueMetrics(registry, []);
    const store = new SqliteQueueStore(db, { metrics });
    const w = start(store, async () => 'ok', { metrics });
    ac.abort();
    await w;
    const series = (await registry.getSingleMetric('contimg_queue_jobs')!.get()).values;
    expect(series.filter((v) => v.labels.queue === 'q').map((v) => [v.labels.state, v.value])).toEqual(
      ['queued', 'running', 'done', 'failed', 'dead', 'cancelled'].map((state) => [state, 0]),
    );
  });

  it('makes its own store from the worker options when none is given', async () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const metrics = queueMetrics(registry, ['q']);
    const retryPolicy = { strategy: 'constant', baseMs: 3_600_000, maxMs: 3_600_000, jitter: 0 } as const;
    const store = new SqliteQueueStore(db);
    const { job } = store.enqueue({ queue: 'q', kind: 'k', runAt: clock.now() });
    const w = runWorker({
      db,
      queue: 'q',
      signal: ac.signal,
      pollMs: 10,
      clock,
      metrics,
      retryPolicy,
      handler: async () => {
        throw new RetryableError('later');
      },
    });
    await waitFor(() => store.get(job.id)?.attempts === 1 && store.get(job.id)?.state === 'queued', {
      what: 'job retried',
    });
    ac.abort();
    await w;
    // The worker's clock and retry policy, and its metrics.
    expect(store.get(job.id)).toMatchObject({ runAt: clock.now() + 3_600_000, startedAt: clock.now() });
    const outcomes = (await registry.getSingleMetric('contimg_queue_outcomes_total')!.get()).values;
    expect(outcomes.find((v) => v.labels.outcome === 'retry')?.value).toBe(1);
  });

  it('names itself <host>:<pid>:worker:<queue>:<random> as lease owner unless told', async () => {
    const store = new SqliteQueueStore(db);
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const w = start(store, async () => 'ok');
    await waitFor(() => store.get(job.id)?.state === 'done', { what: 'job done' });
    ac.abort();
    await w;
    // The one lease-owner format (lib/leases leaseOwner): host and pid first, so a dead holder is recognised.
    expect(store.get(job.id)?.leaseOwner).toBe(
      `${os.hostname()}:${process.pid}:worker:q:${store.get(job.id)!.leaseOwner!.split(':').at(-1)}`,
    );
    expect(store.get(job.id)?.leaseOwner).toMatch(/:worker:q:[0-9a-f]{6}$/);
  });
});
