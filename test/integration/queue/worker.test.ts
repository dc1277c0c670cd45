// The worker loop: job timeout, cancel (lost lease) and shutdown each abort the handler's signal with the
// right outcome; drain waits, then releases; a failing claim is logged, counted and survived; an idle
// worker wakes on commits by other connections and on in-process enqueues.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { Db } from '../../../lib/db/index.js';
import { LeaseLostError, ShutdownError } from '../../../lib/errors.js';
import { createRegistry, type Registry } from '../../../lib/metrics.js';
import {
  JobTimeoutError,
  queueMetrics,
  runWorker,
  SqliteQueueStore,
  Worker,
  type HandlerContext,
  type WorkerOptions,
} from '../../../lib/queue/index.js';
import { openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { holdWriteLock } from '../../helpers/lock.js';
import { captureLog } from '../../helpers/logs.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let file: string;
let db: Db;
let store: SqliteQueueStore;
let registry: Registry;
let ac: AbortController;
beforeEach(async () => {
  ({ dir, file, db } = await setUpStateDb());
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  store = new SqliteQueueStore(db, { metrics: queueMetrics(registry, ['q']) });
  ac = new AbortController();
});
afterEach(() => {
  ac.abort();
  tearDownStateDb({ dir, db });
});

const start = (handler: WorkerOptions['handler'], opts: Partial<WorkerOptions> = {}) =>
  runWorker({ db, store, queue: 'q', signal: ac.signal, pollMs: 10, maxPollMs: 50, handler, ...opts });

/** A handler that waits for its signal and records the abort reason. */
function waitsForAbort(reasons: unknown[], opts: { ignoreAbort?: boolean } = {}) {
  return (_job: unknown, ctx: HandlerContext): Promise<unknown> =>
    new Promise((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        reasons.push(ctx.signal.reason);
        if (!opts.ignoreAbort) reject(ctx.signal.reason);
      });
      if (opts.ignoreAbort)
        setTimeout(() => {
          reasons.push('resolved late');
          resolve('late');
        }, 300);
    });
}

describe('worker', () => {
  it('aborts a job at its timeout; JobTimeoutError is retryable, so it runs again, then goes dead', async () => {
    store = new SqliteQueueStore(db, {
      retryPolicy: { strategy: 'constant', baseMs: 10, maxMs: 10, jitter: 0 },
    });
    const { job } = store.enqueue({ queue: 'q', kind: 'k', timeoutMs: 50, maxAttempts: 2 });
    const reasons: unknown[] = [];
    const w = start(waitsForAbort(reasons));
    await waitFor(() => store.get(job.id)?.state === 'dead', { what: 'timed-out job dead' });
    expect(reasons).toHaveLength(2);
    expect(reasons.every((r) => r instanceof JobTimeoutError)).toBe(true);
    expect(reasons[0]).toMatchObject({
      message: `job ${job.id} timed out after 50 ms`,
      details: { jobId: job.id, timeoutMs: 50 },
    });
    expect(store.get(job.id)).toMatchObject({ attempts: 2 });
    expect(store.get(job.id)?.lastError).toMatch(/JOB_TIMEOUT/);
    ac.abort();
    expect(await w).toMatchObject({ retried: 1, dead: 1 });
  });

  it('cancelling a running job aborts its handler at the next heartbeat (lease lost)', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const reasons: unknown[] = [];
    const w = start(waitsForAbort(reasons), { leaseMs: 90 });
    await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
    store.cancel(job.id);
    await waitFor(() => reasons.length > 0, { what: 'handler aborted' });
    expect(reasons[0]).toBeInstanceOf(LeaseLostError);
    ac.abort();
    expect(await w).toMatchObject({ leaseLost: 1, done: 0, errors: 0 });
    expect(store.get(job.id)?.state).toBe('cancelled');
  });

  it('a lost lease aborts and is logged once, however many heartbeats fail after it', async () => {
    const { log, lines } = captureLog('warn');
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const reasons: unknown[] = [];
    // A heartbeat every 30 ms; the handler takes 300 ms to stop after its abort, so about ten more fail.
    const w = start(waitsForAbort(reasons, { ignoreAbort: true }), { leaseMs: 90, log });
    await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
    store.cancel(job.id);
    await waitFor(() => reasons.includes('resolved late'), { what: 'the handler stopped' });
    await waitFor(() => lines.some((l) => l.msg.startsWith('lease lost: another worker')), {
      what: 'its late result discarded',
    });
    ac.abort();
    expect(await w).toMatchObject({ leaseLost: 1, done: 0, errors: 0 });
    expect(reasons[0]).toBeInstanceOf(LeaseLostError);
    expect(lines.map((l) => l.msg)).toEqual([
      'lease lost while running (cancelled or re-claimed); aborting the handler',
      'lease lost: another worker owns this job now; result discarded',
    ]);
    expect(lines[1].err).toMatchObject({
      message: expect.stringMatching(/^settle: job \d+ is no longer leased/),
    });
  });

  it("ctx.heartbeat() on a cancelled job throws LeaseLostError and aborts the handler's signal", async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const seen: unknown[] = [];
    const w = start(
      async (_job, ctx) => {
        store.cancel(job.id);
        try {
          ctx.heartbeat();
        } catch (e) {
          seen.push(e);
        }
        seen.push(ctx.signal.reason);
        return 'ignored';
      },
      { leaseMs: 60_000 },
    );
    await waitFor(() => seen.length === 2, { what: 'the handler heard of its lost lease' });
    ac.abort();
    expect(await w).toMatchObject({ leaseLost: 1, done: 0 });
    expect(seen[0]).toBeInstanceOf(LeaseLostError);
    expect(seen[1]).toBe(seen[0]);
  });

  it('heartbeats keep a long job leased past leaseMs', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    let release: () => void = () => {};
    const w = start(() => new Promise((r) => (release = () => r('ok'))), { leaseMs: 90 });
    await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
    const firstExpiry = store.get(job.id)!.leaseExpiresAt!;
    await waitFor(() => store.get(job.id)!.leaseExpiresAt! > firstExpiry + 90, { what: 'lease extended' });
    expect(store.claim({ queue: 'q', owner: 'other', leaseMs: 90 })).toEqual([]);
    release();
    await waitFor(() => store.get(job.id)?.state === 'done', { what: 'job done' });
    ac.abort();
    expect(await w).toMatchObject({ done: 1, leaseLost: 0 });
  });

  it('shutdown lets a job finish within the drain budget', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    let finish: () => void = () => {};
    // The handler would give up if aborted: it finishes only because the drain waits for it.
    const w = start(
      (_job, ctx: HandlerContext) =>
        new Promise((resolve, reject) => {
          finish = () => resolve({ drained: true });
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
      { drainMs: 10_000 },
    );
    await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
    ac.abort();
    setTimeout(() => finish(), 50);
    expect(await w).toMatchObject({ done: 1, released: 0 });
    expect(store.get(job.id)).toMatchObject({ state: 'done', result: { drained: true } });
  });

  it('after the abort, waits for the handler to settle before handing the job back', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const stateWhenSettled: unknown[] = [];
    // Stopping takes the handler a moment (say, ending its child process): the job stays ours until then.
    const w = start(
      (_job, ctx: HandlerContext) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () =>
            setTimeout(() => {
              stateWhenSettled.push(store.get(job.id)?.state);
              reject(ctx.signal.reason);
            }, 100),
          ),
        ),
      { drainMs: 10, abortGraceMs: 10_000 },
    );
    await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
    ac.abort();
    expect(await w).toMatchObject({ released: 1 });
    expect(stateWhenSettled).toEqual(['running']);
    expect(store.get(job.id)?.state).toBe('queued');
  });

  it('past the drain budget, aborts jobs with ShutdownError and releases them for another worker', async () => {
    const a = store.enqueue({ queue: 'q', kind: 'k' }).job;
    const b = store.enqueue({ queue: 'q', kind: 'k' }).job;
    const reasons: unknown[] = [];
    const w = start(waitsForAbort(reasons), { concurrency: 2, drainMs: 50 });
    await waitFor(() => store.list({ state: 'running' }).length === 2, { what: 'both running' });
    ac.abort();
    expect(await w).toMatchObject({ released: 2, done: 0, errors: 0 });
    expect(reasons.every((r) => r instanceof ShutdownError)).toBe(true);
    for (const id of [a.id, b.id]) expect(store.get(id)).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('a handler that ignores its abort is released anyway; its late result is refused', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const reasons: unknown[] = [];
    const { log, lines } = captureLog('warn');
    const heard: string[] = [];
    const w = start(waitsForAbort(reasons, { ignoreAbort: true }), {
      drainMs: 20,
      abortGraceMs: 20,
      log,
      hooks: { onSettle: (_conn, e) => void heard.push(e.decision.state) },
    });
    await waitFor(() => store.get(job.id)?.state === 'running', { what: 'job running' });
    ac.abort();
    expect(await w).toMatchObject({ released: 1, done: 0 });
    expect(store.get(job.id)?.state).toBe('queued');
    // Let the ignoring handler resolve; nothing is recorded for it, not even a lost lease.
    const summary = await w;
    await waitFor(() => reasons.includes('resolved late'), { what: 'handler resolved late' });
    await new Promise((r) => setImmediate(r));
    expect(store.get(job.id)).toMatchObject({ state: 'queued', result: null });
    expect(summary).toMatchObject({ released: 1, done: 0, leaseLost: 0, errors: 0 });
    // The abandoned job's late end is not settled (no hook hears of it) nor logged as refused.
    expect(heard).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual(['drain deadline passed; aborting unfinished jobs']);
  });

  it('a heartbeat that meets a busy database is retried; the job carries on', async () => {
    const busyDb = openStateDb(file, { busyTimeoutMs: 10, writeBudgetMs: 30 });
    const locker = new Database(file);
    const { log, lines } = captureLog('warn');
    try {
      const busyStore = new SqliteQueueStore(busyDb);
      const { job } = busyStore.enqueue({ queue: 'q', kind: 'k' });
      const w = runWorker({
        db: busyDb,
        store: busyStore,
        queue: 'q',
        signal: ac.signal,
        pollMs: 10,
        leaseMs: 3_000,
        log,
        handler: async (_job, ctx) => {
          locker.exec('BEGIN IMMEDIATE');
          expect(() => ctx.heartbeat()).not.toThrow();
          locker.exec('COMMIT');
          ctx.heartbeat();
          return ctx.signal.aborted;
        },
      });
      await waitFor(() => busyStore.get(job.id)?.state === 'done', { what: 'job done' });
      ac.abort();
      expect(await w).toMatchObject({ done: 1, leaseLost: 0 });
      expect(busyStore.get(job.id)?.result).toBe(false);
      expect(lines).toEqual([
        expect.objectContaining({
          msg: 'heartbeat failed; retrying',
          err: expect.objectContaining({ code: 'DB_BUSY' }),
        }),
      ]);
    } finally {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
      busyDb.close();
    }
  });

  it('a lease heartbeat that waits out its budget on a held lock is logged, one at a time, and the job carries on', async () => {
    const { log, lines } = captureLog('warn');
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    let finish = (): void => {};
    // A beat every 500 ms, each waiting up to 1500 ms for the write lock.
    const w = new Worker({
      db,
      store,
      queue: 'q',
      signal: ac.signal,
      leaseMs: 1500,
      log,
      handler: () => new Promise((resolve) => (finish = () => resolve('finished'))),
    });
    expect(w.fill()).toBe(1);
    const lock = await holdWriteLock(file);
    try {
      await waitFor(() => lines.length > 0, { what: 'a heartbeat gave up on the lock', timeoutMs: 20_000 });
      // Beats that met the held lock are not stacked: the next starts only after this one gave up, so none
      // fails for another 1.5 s (stacked ones would fail every 500 ms).
      await new Promise((r) => setTimeout(r, 700));
    } finally {
      await lock.release();
    }
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'heartbeat failed; retrying',
        jobId: job.id,
        err: expect.objectContaining({ code: 'DB_BUSY' }),
      }),
    ]);
    finish();
    await waitFor(() => store.get(job.id)?.state === 'done', { what: 'job done' });
    expect(store.get(job.id)?.result).toBe('finished');
    expect(w.summary).toMatchObject({ done: 1, leaseLost: 0, errors: 0 });
    await w.drain();
  }, 40_000);

  it('an outcome it cannot record is logged and counted; the lease will expire and the job rerun', async () => {
    const metrics = queueMetrics(registry, ['q']);
    const { log, lines } = captureLog('warn');
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    let handled = false;
    const w = start(
      async () => {
        handled = true;
        db.conn.exec(
          "CREATE TRIGGER test_no_done BEFORE UPDATE ON jobs WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        );
        return 'ok';
      },
      { metrics, log },
    );
    await waitFor(() => handled && lines.length > 0, { what: 'failure logged' });
    ac.abort();
    expect(await w).toMatchObject({ done: 0, errors: 1, leaseLost: 0 });
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'could not record the job outcome; the lease will expire and it will rerun',
        err: expect.objectContaining({ message: expect.stringMatching(/disk full/) }),
      }),
    ]);
    expect(store.get(job.id)?.state).toBe('running');
    expect((await registry.getSingleMetric('contimg_queue_worker_errors_total')!.get()).values[0].value).toBe(
      1,
    );
  });

  it('survives a failing claim: logs, counts, backs off and continues', async () => {
    db.conn.exec('ALTER TABLE jobs RENAME TO jobs_away');
    const metrics = queueMetrics(registry, ['q']);
    const w = start(async () => 'ok', { metrics });
    const errors = async (): Promise<number> =>
      (await registry.getSingleMetric('contimg_queue_worker_errors_total')!.get()).values[0].value;
    await waitFor(async () => (await errors()) >= 1, { what: 'claim error counted' });
    db.conn.exec('ALTER TABLE jobs_away RENAME TO jobs');
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    await waitFor(() => store.get(job.id)?.state === 'done', { timeoutMs: 15_000, what: 'worker recovered' });
    ac.abort();
    expect((await w).errors).toBeGreaterThanOrEqual(1);
  });

  it('an idle worker wakes when a job fails with a retry due at once (RETRY_NOW), not at its next poll', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    // Claimed and failed outside the worker, as the converter's recovery does for a crashed attempt.
    const [claimed] = store.claim({ queue: 'q', owner: 'recovery', leaseMs: 60_000 });
    const { log, lines } = captureLog('debug');
    const w = start(async () => 'ok', { pollMs: 600_000, maxPollMs: 600_000, wakeCheckMs: 600_000, log });
    await waitFor(() => lines.some((l) => l.msg === 'queue empty; idling'), { what: 'worker idle' });
    const retryNow = { strategy: 'constant', baseMs: 0, maxMs: 0, jitter: 0 } as const;
    store.fail(claimed.lease, new Error('daemon died'), { retryable: true, policy: retryNow });
    await waitFor(() => store.get(job.id)?.state === 'done', { timeoutMs: 5_000, what: 'retried at once' });
    ac.abort();
    expect(await w).toMatchObject({ done: 1 });
  });

  it('an idle worker wakes on another connection committing, well before its poll interval', async () => {
    const { log, lines } = captureLog('debug');
    const idleLines = (): number => lines.filter((l) => l.msg === 'queue empty; idling').length;
    const w = start(async () => 'ok', { pollMs: 60_000, maxPollMs: 60_000, wakeCheckMs: 20, log });
    await waitFor(() => idleLines() > 0, { what: 'worker idle on an empty queue' });
    const other = openStateDb(file);
    const { job } = new SqliteQueueStore(other).enqueue({ queue: 'q', kind: 'k' });
    other.close();
    await waitFor(() => store.get(job.id)?.state === 'done', {
      timeoutMs: 5000,
      what: 'woken by data_version',
    });
    // Same connection: data_version does not move, the in-process notification wakes it instead.
    const local = store.enqueue({ queue: 'q', kind: 'k' }).job;
    await waitFor(() => store.get(local.id)?.state === 'done', { timeoutMs: 5000, what: 'woken in-process' });
    ac.abort();
    expect((await w).done).toBe(2);
  });
});
