// The worker's hooks run inside the queue's own transactions: a domain write that fails inside the claim or
// the settle rolls the queue's change back too (and the worker tries again); the settle hooks see the queue's
// decision (done, retry, dead, released); a claim that buries an expired last attempt tells the owner through
// the same hook, in the burying transaction. The worker's heartbeat and settle wait for a lock held by another
// process without blocking the event loop, and a job finished under such a lock is recorded once, not rerun.
import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../../lib/errors.js';
import { createRegistry } from '../../../lib/metrics.js';
import {
  queueMetrics,
  skipClaim,
  SqliteQueueStore,
  type SettleEvent,
  type WorkerOptions,
} from '../../../lib/queue/index.js';
import { domainRows, note, useQueueDb } from '../../fixtures/queue/queue-db.js';
import { captureLog } from '../../helpers/logs.js';
import { waitFor } from '../../helpers/wait.js';

const q = useQueueDb();

function worker<C = undefined>(opts: Partial<WorkerOptions<Record<string, unknown>, C>>) {
  const w = q.worker<Record<string, unknown>, C>(opts);
  return { w, done: w.run() };
}

describe('worker hooks', () => {
  it('a domain write that fails inside the claim rolls the claim back; the next claim takes the job', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    let failing = true;
    let tries = 0;
    const ran: number[] = [];
    const { w, done } = worker<string>({
      hooks: {
        onClaim: (conn, j) => {
          tries++;
          note(conn, j.id, 'claimed');
          if (failing) throw new Error('domain compare-and-set failed');
          return 'claim-value';
        },
      },
      handler: async (j, ctx) => {
        ran.push(j.id);
        return ctx.claim;
      },
    });
    await waitFor(() => tries >= 1 && w.summary.errors >= 1, { what: 'failed claim counted' });
    expect(q.store.get(job.id)).toMatchObject({
      state: 'queued',
      attempts: 0,
      leaseOwner: null,
      leaseToken: 0,
    });
    expect(domainRows(q.db)).toEqual([]);
    expect(ran).toEqual([]);
    failing = false;
    await waitFor(() => q.store.get(job.id)?.state === 'done', { timeoutMs: 20_000, what: 'job done' });
    expect(q.store.get(job.id)).toMatchObject({ attempts: 1, result: 'claim-value' });
    expect(domainRows(q.db)).toEqual([{ job_id: job.id, what: 'claimed' }]);
    expect(ran).toEqual([job.id]);
    q.ac.abort();
    expect(await done).toMatchObject({ claimed: 1, done: 1 });
  });

  it('a domain write that fails inside the settle rolls the outcome back; the retried settle records it once', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    let failing = true;
    let tries = 0;
    const { w, done } = worker({
      hooks: {
        onSettle: (conn, e) => {
          tries++;
          note(conn, e.job.id, e.decision.state);
          // A passing failure (retryable): the worker tries the settle again while it holds the lease.
          if (failing) throw new RetryableError('domain row refused');
        },
      },
      handler: async () => ({ out: 1 }),
    });
    await waitFor(() => tries >= 1, { what: 'first settle tried' });
    // The queue's change was rolled back with the domain's: still running under this worker's lease.
    expect(q.store.get(job.id)).toMatchObject({
      state: 'running',
      attempts: 1,
      result: null,
      leaseOwner: w.owner,
    });
    expect(domainRows(q.db)).toEqual([]);
    failing = false;
    await waitFor(() => q.store.get(job.id)?.state === 'done', { timeoutMs: 20_000, what: 'settle retried' });
    expect(q.store.get(job.id)).toMatchObject({ attempts: 1, result: { out: 1 } });
    expect(domainRows(q.db)).toEqual([{ job_id: job.id, what: 'done' }]);
    q.ac.abort();
    expect(await done).toMatchObject({ claimed: 1, done: 1, retried: 0 });
  });

  it('the settle hooks see the queue decision: retry, then dead when attempts run out; released at shutdown', async () => {
    const failed = q.store.enqueue({ queue: 'q', kind: 'fails', maxAttempts: 2 }).job;
    const seen: SettleEvent<Record<string, unknown>, undefined>[] = [];
    const settled: string[] = [];
    const { done } = worker({
      hooks: {
        onSettle: (conn, e) => {
          note(conn, e.job.id, e.decision.state);
          seen.push(e);
        },
        onSettled: (e) => void settled.push(`${e.job.id}:${e.decision.state}`),
      },
      handler: async (j, ctx) => {
        if (j.kind === 'fails') throw new RetryableError('flaky instrument');
        await new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        );
      },
      drainMs: 20,
    });
    await waitFor(() => q.store.get(failed.id)?.state === 'dead', { what: 'failing job dead' });
    expect(seen.map((e) => e.decision.state)).toEqual(['retry', 'dead']);
    expect(seen[0].decision).toMatchObject({
      state: 'retry',
      error: expect.stringMatching(/flaky instrument/),
    });
    expect(seen[1].decision).toMatchObject({ state: 'dead', buried: false });
    const waits = q.store.enqueue({ queue: 'q', kind: 'waits' }).job;
    await waitFor(() => q.store.get(waits.id)?.state === 'running', { what: 'waiting job running' });
    q.ac.abort();
    expect(await done).toMatchObject({ retried: 1, dead: 1, released: 1 });
    expect(q.store.get(waits.id)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(domainRows(q.db)).toEqual([
      { job_id: failed.id, what: 'retry' },
      { job_id: failed.id, what: 'dead' },
      { job_id: waits.id, what: 'released' },
    ]);
    expect(settled).toEqual([`${failed.id}:retry`, `${failed.id}:dead`, `${waits.id}:released`]);
  });

  it('a claim that buries an expired last attempt tells the owner in the same transaction', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 1, payload: { scan: 7 } });
    // A holder that died: claimed the job's last attempt, never heartbeated.
    const [gone] = q.store.claim({ queue: 'q', owner: 'dead-holder', leaseMs: 50 });
    expect(gone.id).toBe(job.id);
    await waitFor(() => Date.now() > gone.lease.expiresAt + 5, { what: 'lease expired' });
    let failing = true;
    const seen: SettleEvent<Record<string, unknown>, undefined>[] = [];
    const settled: SettleEvent<Record<string, unknown>, undefined>[] = [];
    const ran: number[] = [];
    const { log, lines } = captureLog('warn');
    const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
    const metrics = queueMetrics(registry, ['q']);
    const { w, done } = worker({
      log,
      metrics,
      store: new SqliteQueueStore(q.db, { metrics }),
      hooks: {
        onSettle: (conn, e) => {
          note(conn, e.job.id, `${e.decision.state}:${'buried' in e.decision && e.decision.buried}`);
          if (failing) throw new Error('domain row refused');
          seen.push(e);
        },
        onSettled: (e) => void settled.push(e),
      },
      handler: async (j) => void ran.push(j.id),
    });
    await waitFor(() => w.summary.errors >= 1, { what: 'failed burial counted' });
    // The burial rolled back with the hook: the row is as the dead holder left it.
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: 'dead-holder', attempts: 1 });
    expect(domainRows(q.db)).toEqual([]);
    failing = false;
    await waitFor(() => q.store.get(job.id)?.state === 'dead', { timeoutMs: 20_000, what: 'job buried' });
    expect(q.store.get(job.id)?.lastError).toMatch(/lease expired on the last attempt/);
    expect(domainRows(q.db)).toEqual([{ job_id: job.id, what: 'dead:true' }]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      job: { id: job.id, kind: 'k', payload: { scan: 7 } },
      claim: undefined,
      decision: { state: 'dead', buried: true },
    });
    expect(settled.map((e) => e.job.id)).toEqual([job.id]);
    expect(ran).toEqual([]);
    // The operator reads which job was buried, once: when the burial committed (the failed tries are errors).
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({
        component: 'queue-worker',
        queue: 'q',
        jobId: job.id,
        msg: 'claim buried a job whose last attempt lost its holder (dead)',
      }),
    ]);
    const outcomes = (await registry.getSingleMetric('contimg_queue_outcomes_total')!.get()).values;
    expect(
      outcomes.filter((v) => v.value > 0).map((v) => [v.labels.queue, v.labels.outcome, v.value]),
    ).toEqual([['q', 'dead', 1]]);
    q.ac.abort();
    await done;
  });

  it('the settle hooks see the lease as its heartbeats last renewed it, not as it was claimed', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    let claimedExpiry = 0;
    let renewedExpiry = 0;
    const seen: number[] = [];
    const { done } = worker({
      leaseMs: 300,
      hooks: {
        onSettle: (_conn, e) => void seen.push(e.job.lease.expiresAt),
        onSettled: (e) => void seen.push(e.job.lease.expiresAt),
      },
      handler: async (j) => {
        claimedExpiry = j.lease.expiresAt;
        await waitFor(() => q.store.get(j.id)!.leaseExpiresAt! > claimedExpiry, { what: 'lease renewed' });
        renewedExpiry = q.store.get(j.id)!.leaseExpiresAt!;
        return 'ok';
      },
    });
    await waitFor(() => q.store.get(job.id)?.state === 'done', { what: 'job done' });
    q.ac.abort();
    await done;
    expect(renewedExpiry).toBeGreaterThan(claimedExpiry);
    expect(seen).toHaveLength(2);
    for (const expiresAt of seen) expect(expiresAt).toBeGreaterThanOrEqual(renewedExpiry);
  });

  it("onClaim's skipClaim finishes a stale job at claim without running it: done, counted, told to onSettled", async () => {
    const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
    const metrics = queueMetrics(registry, ['q']);
    q.store = new SqliteQueueStore(q.db, { metrics });
    const { log, lines } = captureLog('debug');
    const stale = q.store.enqueue({ queue: 'q', kind: 'k', payload: { stale: true } }).job;
    const fresh = q.store.enqueue({ queue: 'q', kind: 'k', payload: { stale: false } }).job;
    const ran: number[] = [];
    const hooked: number[] = [];
    const settled: SettleEvent<Record<string, unknown>, string>[] = [];
    const { done } = worker<string>({
      store: q.store,
      metrics,
      log,
      concurrency: 2,
      hooks: {
        onClaim: (_conn, j) => (j.payload.stale ? skipClaim({ already: 'converted' }) : 'fresh'),
        onSettle: (_conn, e) => void hooked.push(e.job.id),
        onSettled: (e) => void settled.push(e),
      },
      handler: async (j) => void ran.push(j.id),
    });
    await waitFor(() => [stale, fresh].every((j) => q.store.get(j.id)?.state === 'done'), {
      what: 'both done',
    });
    q.ac.abort();
    expect(await done).toMatchObject({ claimed: 1, done: 1 });
    expect(q.store.get(stale.id)).toMatchObject({ attempts: 1, result: { already: 'converted' } });
    expect(ran).toEqual([fresh.id]);
    expect(hooked).toEqual([fresh.id]);
    expect(settled.find((e) => e.job.id === stale.id)).toMatchObject({
      claim: undefined,
      decision: { state: 'done', result: { already: 'converted' } },
    });
    const values = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
    expect((await values('contimg_queue_claims_total')).find((v) => v.labels.queue === 'q')?.value).toBe(2);
    expect(
      (await values('contimg_queue_outcomes_total')).find((v) => v.labels.outcome === 'done')?.value,
    ).toBe(2);
    expect(lines.filter((l) => l.jobId === stale.id).map((l) => [l.level, l.msg])).toEqual([
      ['debug', 'stale job finished at claim; nothing to run'],
    ]);
  });

  it('the claim gate bounds what is claimed; beforeClaim returning false claims nothing', async () => {
    const jobs = [0, 1, 2].map((i) => q.store.enqueue({ queue: 'q', kind: 'k', payload: { i } }).job);
    let cap = 0;
    let open = false;
    const gates: number[] = [];
    const releases: (() => void)[] = [];
    const { done } = worker({
      concurrency: 3,
      hooks: {
        // At most `cap` in flight (a disk-space or pause gate); look again soon.
        gate: ({ inFlight }) => {
          gates.push(inFlight);
          return { limit: cap - inFlight, wakeAt: Date.now() + 20 };
        },
        beforeClaim: () => open,
      },
      handler: () => new Promise((r) => releases.push(() => r('ok'))),
    });
    await waitFor(() => gates.length >= 3, { what: 'gate consulted' });
    cap = 1;
    const seen = gates.length;
    await waitFor(() => gates.length >= seen + 3, { what: 'gate consulted again' });
    expect(q.store.list({ state: 'running' })).toHaveLength(0);
    open = true;
    await waitFor(() => q.store.list({ state: 'running' }).length === 1, { what: 'one job claimed' });
    await waitFor(() => gates.filter((n) => n === 1).length >= 3, {
      what: 'gate consulted with a job in flight',
    });
    expect(q.store.list({ state: 'running' })).toHaveLength(1);
    cap = 3;
    await waitFor(() => q.store.list({ state: 'running' }).length === 3, { what: 'all claimed' });
    releases.forEach((r) => r());
    await waitFor(() => jobs.every((j) => q.store.get(j.id)?.state === 'done'), { what: 'all done' });
    q.ac.abort();
    expect(await done).toMatchObject({ claimed: 3, done: 3 });
  });
});

describe('worker writes under a lock held by another process', () => {
  it('heartbeat and settle wait without blocking the event loop; the job is recorded once, not rerun', async () => {
    const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
    const metrics = queueMetrics(registry, ['q']);
    q.store = new SqliteQueueStore(q.db, { metrics });
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    let finish: () => void = () => {};
    let runs = 0;
    const { done } = worker({
      store: q.store,
      metrics,
      leaseMs: 600,
      handler: () => {
        runs++;
        return new Promise((r) => (finish = () => r('rendered')));
      },
    });
    await waitFor(() => q.store.get(job.id)?.state === 'running', { what: 'job running' });
    await q.holdLock();
    // The handler ends while the lock is held, longer than the lease: heartbeats and the settle must wait.
    finish();
    let maxGapMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
    }, 10);
    try {
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      clearInterval(ticker);
    }
    // A synchronous write would hold the thread for the whole lock (1.5 s); a yielding one never near it.
    expect(maxGapMs).toBeLessThan(1000);
    await q.releaseLock();
    await waitFor(() => q.store.get(job.id)?.state === 'done', {
      timeoutMs: 20_000,
      what: 'settled after the lock',
    });
    expect(q.store.get(job.id)).toMatchObject({ attempts: 1, result: 'rendered' });
    expect(runs).toBe(1);
    q.ac.abort();
    expect(await done).toMatchObject({ claimed: 1, done: 1, leaseLost: 0 });
  });
});
