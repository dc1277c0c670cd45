// The worker's seams for a daemon that drives it from its own loop and recovers work after a restart (the
// streaming converter): adopt (a job already running under our lease joins the worker), settleFor (an attempt
// the worker never ran, settled through the same hooks), onSettleError (each failed settle write, and whether
// it is tried again), an endless abort grace (the drain waits for aborted handlers; their writes give up at the
// hard stop), and the gate's wakeAt (a closed gate is looked at again then, not at the idle poll).
import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../lib/errors.js';
import {
  Settle,
  type ClaimedJob,
  type SettleEvent,
  type Worker,
  type WorkerOptions,
} from '../../../lib/queue/index.js';
import { domainRows, note, useQueueDb } from '../../fixtures/queue/queue-db.js';
import { captureLog } from '../../helpers/logs.js';
import { waitFor } from '../../helpers/wait.js';

type P = Record<string, unknown>;
type Claim = { tag: string };

const q = useQueueDb();

const worker = (opts: Partial<WorkerOptions<P, Claim>> = {}): Worker<P, Claim> => q.worker<P, Claim>(opts);

/** A job claimed by `owner` (a previous run of this daemon, or a dead holder). */
function claimed(owner: string, leaseMs = 60_000, maxAttempts = 3): ClaimedJob {
  q.store.enqueue({ queue: 'q', kind: 'k', maxAttempts, payload: { n: 1 } });
  return q.store.claim({ queue: 'q', owner, leaseMs })[0];
}

/** A handler that runs until `release()` (or rejects with its abort reason). */
function gated(): { handler: WorkerOptions<P, Claim>['handler']; release: () => void } {
  let release = (): void => {};
  const handler: WorkerOptions<P, Claim>['handler'] = (_job, ctx) =>
    new Promise((resolve, reject) => {
      release = () => resolve('finished');
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    });
  return { handler, release: () => release() };
}

describe('worker.adopt', () => {
  it('an adopted job takes a slot, is heartbeated, and is settled through the hooks with its claim', async () => {
    const job = claimed('previous-run', 300);
    const settled: SettleEvent<P, Claim>[] = [];
    const { handler, release } = gated();
    const w = worker({
      concurrency: 1,
      leaseMs: 300,
      hooks: {
        onSettle: (conn, e) => note(conn, e.job.id, `${e.decision.state}:${e.claim?.tag}`),
        onSettled: (e) => void settled.push(e),
      },
    });
    w.adopt(job, { tag: 'adopted' }, handler);
    expect(w.inFlight).toBe(1);
    expect(w.jobIds()).toEqual(new Set([job.id]));
    // Its one slot is taken: a due job waits.
    const next = q.store.enqueue({ queue: 'q', kind: 'k' }).job;
    expect(w.fill()).toBe(0);
    expect(q.store.get(next.id)?.state).toBe('queued');
    // Heartbeated like a claimed job (every leaseMs/3): the lease outlives its first expiry.
    await waitFor(() => (q.store.get(job.id)?.leaseExpiresAt ?? 0) > job.lease.expiresAt + 150, {
      what: 'lease extended',
    });
    release();
    await waitFor(() => w.inFlight === 0, { what: 'adopted job settled' });
    expect(q.store.get(job.id)).toMatchObject({ state: 'done', result: 'finished', attempts: 1 });
    expect(domainRows(q.db)).toEqual([{ job_id: job.id, what: 'done:adopted' }]);
    expect(settled.map((e) => e.claim)).toEqual([{ tag: 'adopted' }]);
    expect(w.fill()).toBe(1);
    await waitFor(() => q.store.get(next.id)?.state === 'done', { what: 'the waiting job ran' });
  });

  it('an adopted job drains like a claimed one: aborted past drainMs and handed back', async () => {
    const job = claimed('previous-run');
    const { handler } = gated();
    const w = worker({
      drainMs: 20,
      hooks: { onSettle: (conn, e) => note(conn, e.job.id, e.decision.state) },
    });
    w.adopt(job, { tag: 'adopted' }, handler);
    await w.drain();
    expect(w.inFlight).toBe(0);
    expect(q.store.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(domainRows(q.db)).toEqual([{ job_id: job.id, what: 'released' }]);
    expect(w.summary.released).toBe(1);
  });

  it.each([
    ['a finite abort grace', 5000],
    ['an endless abort grace', Infinity],
  ])(
    'with %s, a job adopted after the drain aborted the others is not handed back: its handler was never aborted',
    async (_what, abortGraceMs) => {
      const { job: first } = q.store.enqueue({ queue: 'q', kind: 'k' });
      const adoptedBody = gated();
      let adoptedAborted = false;
      const w = worker({
        drainMs: 10,
        abortGraceMs,
        // Stops a moment after its abort; meanwhile recovery hands the worker a job it found still running.
        handler: (_job, ctx) =>
          new Promise((_resolve, reject) =>
            ctx.signal.addEventListener('abort', () =>
              setTimeout(() => {
                w.adopt(later, { tag: 'adopted' }, (j, c) => {
                  c.signal.addEventListener('abort', () => (adoptedAborted = true));
                  return adoptedBody.handler(j, c);
                });
                reject(ctx.signal.reason as Error);
              }, 50),
            ),
          ),
      });
      expect(w.fill()).toBe(1);
      const later = claimed('previous-run');
      await w.drain();
      expect(q.store.get(first.id)).toMatchObject({ state: 'queued', attempts: 0 });
      expect(w.summary).toMatchObject({ released: 1, errors: 0 });
      // Handing it back would let another worker claim it while its handler runs on: it keeps its lease.
      expect(w.jobIds()).toEqual(new Set([later.id]));
      expect(q.store.get(later.id)).toMatchObject({ state: 'running', leaseOwner: 'previous-run' });
      adoptedBody.release();
      await waitFor(() => w.inFlight === 0, { what: 'the adopted job ended' });
      expect(adoptedAborted).toBe(false);
      // The drain is over and the worker no longer writes: its end is left to the lease, like any late settle.
      expect(q.store.get(later.id)).toMatchObject({
        state: 'running',
        leaseOwner: 'previous-run',
        result: null,
      });
      expect(w.summary).toMatchObject({ released: 1, done: 0, errors: 1 });
    },
  );
});

describe('worker.settleFor', () => {
  it("records an attempt it never ran under that attempt's lease; a lease taken since changes nothing", async () => {
    const seen: string[] = [];
    const { log, lines } = captureLog('warn');
    const w = worker({
      log,
      hooks: {
        onSettle: (conn, e) => {
          note(conn, e.job.id, e.decision.state);
          seen.push(`${e.decision.state}:${e.claim?.tag}`);
        },
        onSettled: (e) => void seen.push(`settled:${e.decision.state}`),
      },
    });
    const dead = claimed('dead-holder');
    const d = await w.settleFor(
      dead,
      { tag: 'found' },
      Settle.failed(new Error('crashed'), { retryable: true }),
    );
    expect(d).toMatchObject({ state: 'retry', error: expect.stringMatching(/crashed/) });
    expect(q.store.get(dead.id)).toMatchObject({
      state: 'queued',
      attempts: 1,
      lastError: expect.stringMatching(/crashed/),
    });
    // Claimed again by another holder: the old token is fenced off; the hook still hears of it (lost).
    const again = await waitFor(() => q.store.claim({ queue: 'q', owner: 'other', leaseMs: 60_000 })[0], {
      what: 'the retry claimed by another holder',
    });
    expect(again.lease.token).toBeGreaterThan(dead.lease.token);
    expect(await w.settleFor(dead, { tag: 'late' }, Settle.done('late'))).toEqual({ state: 'lost' });
    expect(q.store.get(dead.id)).toMatchObject({ state: 'running', leaseOwner: 'other', result: null });
    expect(seen).toEqual(['retry:found', 'settled:retry', 'lost:late', 'settled:lost']);
    expect(domainRows(q.db)).toEqual([
      { job_id: dead.id, what: 'retry' },
      { job_id: dead.id, what: 'lost' },
    ]);
    // Logged like a job the worker ran: which job, which kind, and what became of it.
    expect(lines.map((l) => [l.msg, l.component, l.jobId, l.kind, l.state])).toEqual([
      ['job failed; will retry', 'queue-worker', dead.id, 'k', 'queued'],
      [
        'lease lost: another worker owns this job now; result discarded',
        'queue-worker',
        dead.id,
        'k',
        undefined,
      ],
    ]);
  });

  it('resolves null when onSettle refuses, and the queue keeps the job as it was', async () => {
    const w = worker({ hooks: { onSettle: () => false } });
    const job = claimed('dead-holder');
    expect(await w.settleFor(job, { tag: 'x' }, Settle.done())).toBeNull();
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: 'dead-holder' });
  });
});

describe('onSettleError', () => {
  it('hears each failed settle write: a passing one is tried again, any other is thrown at once', async () => {
    let failures = 2;
    const errors: { msg: string; try: number; retrying: boolean }[] = [];
    const w = worker({
      hooks: {
        onSettle: (conn, e) => {
          if (e.claim?.tag === 'permanent') throw new PermanentError('domain row refused for good');
          if (failures-- > 0) throw new RetryableError('domain row busy');
          note(conn, e.job.id, e.decision.state);
        },
        onSettleError: (e, job, info) =>
          void errors.push({ msg: (e as Error).message, ...info, ...{ job: job.id } }),
      },
    });
    const a = claimed('dead-holder');
    expect(await w.settleFor(a, { tag: 'passing' }, Settle.done())).toEqual({
      state: 'done',
      result: undefined,
    });
    expect(errors).toEqual([
      { msg: 'domain row busy', try: 1, retrying: true, job: a.id },
      { msg: 'domain row busy', try: 2, retrying: true, job: a.id },
    ]);
    expect(domainRows(q.db)).toEqual([{ job_id: a.id, what: 'done' }]);
    errors.length = 0;
    const b = claimed('dead-holder');
    await expect(w.settleFor(b, { tag: 'permanent' }, Settle.done())).rejects.toThrow(/for good/);
    expect(errors).toEqual([{ msg: 'domain row refused for good', try: 1, retrying: false, job: b.id }]);
    expect(q.store.get(b.id)?.state).toBe('running');
  }, 20_000);
  it('a passing failure is tried five times in all, each retry logged with its try; the fifth is thrown', async () => {
    const { log, lines } = captureLog('warn');
    const tries: { try: number; retrying: boolean }[] = [];
    const w = worker({
      log,
      hooks: {
        onSettle: () => {
          throw new RetryableError('domain row still busy');
        },
        onSettleError: (_e, _job, info) => void tries.push(info),
      },
    });
    const job = claimed('dead-holder');
    const t0 = Date.now();
    await expect(w.settleFor(job, { tag: 'x' }, Settle.done())).rejects.toThrow(/still busy/);
    // Backing off 1, 2, 3 and 4 seconds between the tries.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(9_900);
    expect(tries).toEqual([
      { try: 1, retrying: true },
      { try: 2, retrying: true },
      { try: 3, retrying: true },
      { try: 4, retrying: true },
      { try: 5, retrying: false },
    ]);
    expect(lines.map((l) => [l.msg, l.try, (l.err as { message?: string } | undefined)?.message])).toEqual(
      [1, 2, 3, 4].map((i) => ['could not record the job outcome; retrying', i, 'domain row still busy']),
    );
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: 'dead-holder' });
  }, 40_000);
  it('a job between settle tries when the drain gives up is handed back, not left to its lease', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    const tries: { try: number; retrying: boolean }[] = [];
    const w = worker({
      drainMs: 20,
      abortGraceMs: 20,
      hooks: {
        onSettle: () => {
          throw new RetryableError('domain row busy');
        },
        onSettleError: (_e, _job, info) => void tries.push(info),
      },
    });
    expect(w.fill()).toBe(1);
    await waitFor(() => tries.length === 1, { what: 'the first settle failed; its retry waits' });
    await w.drain();
    expect(tries).toEqual([{ try: 1, retrying: true }]);
    expect(w.summary).toMatchObject({ released: 1, errors: 0, done: 0 });
    expect(q.store.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('a job whose settle write waits for the lock when the drain gives up is not handed back; its lease is left to expire', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    const { log, lines } = captureLog('warn');
    const g = gated();
    const w = worker({ drainMs: 20, abortGraceMs: 20, log, handler: g.handler });
    expect(w.fill()).toBe(1);
    await q.holdLock();
    g.release(); // the handler finishes; its settle waits for the lock another process holds
    await w.drain();
    // The write gives up with the drain, not at the database's write budget (15 s here).
    await waitFor(() => w.summary.errors > 0, { timeoutMs: 5000, what: 'the settle write gave up' });
    // Handing it back would be a second write racing the settle already waiting for the lock.
    expect(lines.map((l) => l.msg)).toEqual([
      'drain deadline passed; aborting unfinished jobs',
      'could not record the job outcome; the lease will expire and it will rerun',
    ]);
    expect(lines[1].err).toMatchObject({ message: 'worker stopped waiting for the database' });
    expect(w.summary).toMatchObject({ released: 0, errors: 1, done: 0 });
    await q.releaseLock();
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: w.owner });
  }, 30_000);
});

describe('a refused settle', () => {
  it('a job the settle hook refuses is logged as not recorded, counted nowhere, and left to its lease', async () => {
    const { log, lines } = captureLog('warn');
    const settled: unknown[] = [];
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    const w = worker({ log, hooks: { onSettle: () => false, onSettled: (e) => void settled.push(e) } });
    expect(w.fill()).toBe(1);
    await waitFor(() => w.inFlight === 0, { what: 'the job ran and its settle was refused' });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        jobId: job.id,
        msg: 'outcome not recorded: the settle hook refused it (settled elsewhere, or left to its lease)',
      }),
    ]);
    expect(settled).toEqual([]);
    expect(w.summary).toMatchObject({ done: 0, retried: 0, dead: 0, released: 0, leaseLost: 0, errors: 0 });
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: w.owner, result: null });
  });
});

describe('an endless abort grace', () => {
  it('the drain waits for aborted handlers as long as they take, and records what they return', async () => {
    q.store.enqueue({ queue: 'q', kind: 'k' });
    let cleanedUp = false;
    const w = worker({
      drainMs: 10,
      abortGraceMs: Infinity,
      // Stopping takes a while (a child's kill grace): longer than the default abort grace would allow.
      handler: (_job, ctx) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () =>
            setTimeout(() => {
              cleanedUp = true;
              resolve(Settle.released());
            }, 2500),
          ),
        ),
    });
    expect(w.fill()).toBe(1);
    await w.drain();
    expect(cleanedUp).toBe(true);
    expect(w.summary).toMatchObject({ released: 1, errors: 0 });
    expect(q.store.list({ state: 'queued' })).toHaveLength(1);
  }, 20_000);

  it('a settle waiting for the write lock gives up at the hard stop; the job stays leased', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    const hard = new AbortController();
    const w = worker({
      drainMs: 10,
      abortGraceMs: Infinity,
      hardStop: hard.signal,
      handler: gated().handler,
    });
    expect(w.fill()).toBe(1);
    await q.holdLock();
    const drained = w.drain();
    await new Promise((r) => setTimeout(r, 300));
    let over = false;
    void drained.then(() => (over = true));
    expect(over).toBe(false);
    hard.abort();
    await drained;
    expect(w.summary.errors).toBe(1);
    await q.releaseLock();
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: w.owner });
  }, 60_000);
});

describe('gate wakeAt', () => {
  it('a closed gate is consulted again at its wakeAt, well before the idle poll', async () => {
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    const gates: number[] = [];
    const w = worker({
      pollMs: 30_000,
      maxPollMs: 30_000,
      hooks: {
        gate: () => {
          gates.push(Date.now());
          return gates.length === 1 ? { limit: 0, wakeAt: Date.now() + 100 } : { limit: 1 };
        },
      },
    });
    const started = Date.now();
    const done = w.run();
    await waitFor(() => q.store.get(job.id)?.state === 'done', { what: 'claimed after the gate opened' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(gates[1] - gates[0]).toBeGreaterThanOrEqual(90);
    q.ac.abort();
    await done;
  });
});
