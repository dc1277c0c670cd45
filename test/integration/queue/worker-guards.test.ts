// The worker's guards and its stop, at their edges: what it refuses to start with (and says so), wake() from a
// daemon's own loop, the claims fill() must not make (a full worker, a stopping one, a closed gate, an idle
// queue), a claim round with no onSettled hook to tell, a full run() that does not look for work until a slot
// frees, a drain whose hand-back fails (a lost lease, a failing write), and an endless abort grace under a hard
// stop that came before the drain did.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManualClock } from '../../../lib/clock.js';
import {
  defineJob,
  skipClaim,
  SqliteQueueStore,
  Worker,
  type WorkerOptions,
} from '../../../lib/queue/index.js';
import { useQueueDb } from '../../fixtures/queue/queue-db.js';
import { captureLog } from '../../helpers/logs.js';
import { thrown } from '../../helpers/thrown.js';
import { waitFor } from '../../helpers/wait.js';

// The store's own (standard) retry policy, and no domain table.
const q = useQueueDb({ store: (db) => new SqliteQueueStore(db), domain: false });

const worker = (opts: Partial<WorkerOptions> = {}): Worker => q.worker(opts);

/** A handler that runs until `release()`; it rejects with its abort reason unless told to ignore aborts. */
function gated(opts: { ignoreAbort?: boolean } = {}): {
  handler: WorkerOptions['handler'];
  release: () => void;
} {
  let release = (): void => {};
  const handler: WorkerOptions['handler'] = (_job, ctx) =>
    new Promise((resolve, reject) => {
      release = () => resolve('finished');
      if (!opts.ignoreAbort) ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    });
  return { handler, release: () => release() };
}

/** A manual clock that counts how often the worker reads the time: once per look for work, and per claim. */
class CountingClock extends ManualClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

describe('worker construction', () => {
  const Render = defineJob({ queue: 'thumbs', kind: 'render', payload: z.object({ path: z.string() }) });
  const Deliver = defineJob({
    queue: { prefix: 'deliver:' },
    kind: 'send',
    payload: z.object({ id: z.number() }),
  });
  const base = { signal: new AbortController().signal, handler: async () => 'x' };

  it('refuses a worker without a queue, or on a queue its type does not live in, naming both', () => {
    expect(thrown(() => new Worker({ db: q.db, ...base }))).toMatchObject({
      constructor: TypeError,
      message: 'worker: queue (none) does not carry jobs',
    });
    expect(thrown(() => new Worker({ db: q.db, type: Render, queue: 'other', ...base }))).toMatchObject({
      constructor: TypeError,
      message: 'worker: queue other does not carry render',
    });
    // A family's type names only its prefix: a worker must be given a member queue.
    expect(thrown(() => new Worker({ db: q.db, type: Deliver, ...base }))).toMatchObject({
      constructor: TypeError,
      message: 'worker: queue deliver: does not carry send',
    });
    expect(new Worker({ db: q.db, type: Deliver, queue: 'deliver:slack', ...base }).inFlight).toBe(0);
  });
});

describe('wake()', () => {
  it('makes an idle worker look for work now, not at its next poll; before run() and after it, it does nothing', async () => {
    const clock = new ManualClock(Date.now());
    q.store = new SqliteQueueStore(q.db, { clock });
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k', runAt: clock.now() + 60_000 });
    const { log, lines } = captureLog('debug');
    const w = worker({ clock, log, pollMs: 600_000, maxPollMs: 600_000, wakeCheckMs: 600_000 });
    w.wake(); // no loop yet: nothing to wake, and nothing thrown
    const done = w.run();
    await waitFor(() => lines.some((l) => l.msg === 'queue empty; idling'), { what: 'worker idle' });
    // The job falls due without a commit: nothing wakes the worker but wake().
    clock.advance(60_000);
    expect(q.store.get(job.id)?.state).toBe('queued');
    w.wake();
    await waitFor(() => q.store.get(job.id)?.state === 'done', {
      timeoutMs: 5000,
      what: 'claimed on wake()',
    });
    q.ac.abort();
    expect(await done).toMatchObject({ claimed: 1, done: 1 });
    w.wake();
  });
});

describe('fill() claims nothing', () => {
  it('while the worker is full: the gate is not even asked', async () => {
    const gates: { inFlight: number }[] = [];
    const g = gated();
    const w = worker({
      concurrency: 1,
      handler: g.handler,
      hooks: { gate: (s) => (gates.push(s), { limit: 5 }) },
    });
    const a = q.store.enqueue({ queue: 'q', kind: 'k' }).job;
    const b = q.store.enqueue({ queue: 'q', kind: 'k' }).job;
    expect(w.fill()).toBe(1);
    expect(gates).toEqual([{ inFlight: 0 }]);
    expect(w.fill()).toBe(0);
    expect(gates).toEqual([{ inFlight: 0 }]);
    expect(q.store.get(b.id)?.state).toBe('queued');
    g.release();
    await waitFor(() => q.store.get(a.id)?.state === 'done', { what: 'the first job done' });
    await waitFor(() => w.inFlight === 0, { what: 'its slot free' });
    expect(w.fill()).toBe(1);
    expect(gates).toEqual([{ inFlight: 0 }, { inFlight: 0 }]);
    g.release();
    await waitFor(() => q.store.get(b.id)?.state === 'done', { what: 'the second job done' });
  });

  it('once the drain has begun, with slots free and jobs due: not during the drain, nor after it', async () => {
    const g = gated();
    const w = worker({ concurrency: 2, handler: g.handler, drainMs: 60_000 });
    const a = q.store.enqueue({ queue: 'q', kind: 'k' }).job;
    expect(w.fill()).toBe(1);
    const drained = w.drain();
    const b = q.store.enqueue({ queue: 'q', kind: 'k' }).job;
    expect(w.fill()).toBe(0);
    g.release();
    await drained;
    expect(q.store.get(a.id)?.state).toBe('done');
    expect(w.fill()).toBe(0);
    expect(q.store.get(b.id)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(w.summary).toMatchObject({ claimed: 1, done: 1 });
  });

  it('a drain with nothing in flight stops the claims all the same', async () => {
    const w = worker();
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    await w.drain();
    expect(w.fill()).toBe(0);
    expect(q.store.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('when the gate allows none, and on an idle queue: no claim transaction at all (beforeClaim never runs)', () => {
    const gates: number[] = [];
    const rounds: number[] = [];
    let limit = 1;
    const w = worker({
      concurrency: 3,
      hooks: {
        gate: () => (gates.push(limit), { limit }),
        beforeClaim: () => (rounds.push(limit), true),
      },
    });
    // Idle: the read that finds nothing due spares the gate and the write lock.
    expect(w.fill()).toBe(0);
    expect(gates).toEqual([]);
    expect(rounds).toEqual([]);
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    limit = 0;
    expect(w.fill()).toBe(0);
    limit = -1; // a gate that counts more in flight than it allows
    expect(w.fill()).toBe(0);
    expect(gates).toEqual([0, -1]);
    expect(rounds).toEqual([]);
    expect(q.store.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
    limit = 1;
    expect(w.fill()).toBe(1);
    expect(rounds).toEqual([1]);
  });
});

describe('a claim round without onSettled', () => {
  it('buries one job and finishes another at claim without a hook to tell: nothing thrown, no error', async () => {
    const { job: last } = q.store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 1 });
    // A holder that died on the job's last attempt.
    const [gone] = q.store.claim({ queue: 'q', owner: 'dead-holder', leaseMs: 50 });
    await waitFor(() => Date.now() > gone.lease.expiresAt + 5, { what: 'lease expired' });
    const { job: stale } = q.store.enqueue({ queue: 'q', kind: 'k' });
    const { log, lines } = captureLog('warn');
    const w = worker({ log, concurrency: 2, hooks: { onClaim: () => skipClaim('already done') } });
    expect(w.fill()).toBe(0);
    expect(q.store.get(last.id)?.state).toBe('dead');
    expect(q.store.get(stale.id)).toMatchObject({ state: 'done', result: 'already done' });
    expect(w.summary).toMatchObject({ claimed: 0, errors: 0 });
    expect(lines.map((l) => [l.msg, l.jobId])).toEqual([
      ['claim buried a job whose last attempt lost its holder (dead)', last.id],
    ]);
  });
});

describe('a full worker', () => {
  it('does not look for work (nor log itself idle) until a slot frees, then claims at once', async () => {
    const { log, lines } = captureLog('debug');
    const g = gated();
    const a = q.store.enqueue({ queue: 'q', kind: 'k' }).job;
    const b = q.store.enqueue({ queue: 'q', kind: 'k' }).job;
    // The worker claims at its clock's time: not before the jobs' (the store's) run_at.
    const clock = new CountingClock(Date.now());
    // A look again after 10 minutes at the latest; heartbeats (the store's clock) every 100 ms.
    const w = worker({
      clock,
      log,
      concurrency: 1,
      pollMs: 10,
      maxPollMs: 600_000,
      leaseMs: 300,
      handler: g.handler,
    });
    const done = w.run();
    await waitFor(() => q.store.get(a.id)?.state === 'running', { what: 'the first job running' });
    const readsWhenFull = clock.reads;
    const claimedExpiry = q.store.get(a.id)!.leaseExpiresAt!;
    // Three heartbeats: at least 300 ms with the worker full.
    await waitFor(() => q.store.get(a.id)!.leaseExpiresAt! >= claimedExpiry + 300, {
      what: 'three heartbeats',
    });
    // At most the one look that found it full right after the claim (a tick reads the time twice).
    expect(clock.reads - readsWhenFull).toBeLessThanOrEqual(2);
    expect(lines.filter((l) => l.msg === 'queue empty; idling')).toEqual([]);
    expect(q.store.get(b.id)?.state).toBe('queued');
    g.release();
    await waitFor(() => q.store.get(b.id)?.state === 'running', {
      timeoutMs: 5000,
      what: 'the second claimed',
    });
    g.release();
    await waitFor(() => q.store.get(b.id)?.state === 'done', { what: 'the second done' });
    q.ac.abort();
    expect(await done).toMatchObject({ claimed: 2, done: 2 });
  });
});

describe('a drain whose hand-back fails', () => {
  it('a job cancelled meanwhile is counted as a lost lease, not as an error', async () => {
    const { log, lines } = captureLog('warn');
    const g = gated({ ignoreAbort: true });
    const w = worker({ log, drainMs: 20, abortGraceMs: 20, handler: g.handler });
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    expect(w.fill()).toBe(1);
    q.store.cancel(job.id);
    await w.drain();
    expect(w.summary).toMatchObject({ released: 0, leaseLost: 1, errors: 0 });
    expect(lines.map((l) => l.msg)).toEqual(['drain deadline passed; aborting unfinished jobs']);
    g.release();
    await waitFor(() => w.inFlight === 0, { what: 'the handler ended late' });
    expect(q.store.get(job.id)).toMatchObject({ state: 'cancelled', result: null });
    expect(w.summary).toMatchObject({ done: 0, leaseLost: 1 });
  });

  it('a hand-back the database refuses is logged and counted; the lease is left to expire', async () => {
    const { log, lines } = captureLog('warn');
    const g = gated({ ignoreAbort: true });
    const w = worker({ log, drainMs: 20, abortGraceMs: 20, handler: g.handler });
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    expect(w.fill()).toBe(1);
    q.db.conn.exec(
      "CREATE TRIGGER test_no_release BEFORE UPDATE ON jobs WHEN NEW.state = 'queued' BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    await w.drain();
    expect(w.summary).toMatchObject({ released: 0, leaseLost: 0, errors: 1 });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'drain deadline passed; aborting unfinished jobs'],
      ['error', 'could not hand a job back; its lease will expire'],
    ]);
    expect(lines[1]).toMatchObject({
      component: 'queue-worker',
      queue: 'q',
      err: expect.objectContaining({ message: expect.stringMatching(/disk full/) }),
    });
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: w.owner });
    g.release();
    await waitFor(() => w.inFlight === 0, { what: 'the handler ended late' });
  });
});

describe('an endless abort grace under a hard stop', () => {
  it('a hard stop that came before the drain: settles waiting for the lock give up at once', async () => {
    const { log, lines } = captureLog('warn');
    const hard = new AbortController();
    const w = worker({
      log,
      drainMs: 60_000,
      abortGraceMs: Infinity,
      hardStop: hard.signal,
      handler: gated().handler,
    });
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    expect(w.fill()).toBe(1);
    await q.holdLock();
    hard.abort();
    const t0 = Date.now();
    await w.drain();
    // Not the drain's minute, nor a wait for the lock without end (the settle's write budget is endless).
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(w.summary).toMatchObject({ released: 0, errors: 1 });
    expect(lines.at(-1)).toMatchObject({
      msg: 'could not record the job outcome; the lease will expire and it will rerun',
      err: expect.objectContaining({ message: 'hard stop: no more waiting for the database' }),
    });
    await q.releaseLock();
    expect(q.store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: w.owner });
  }, 30_000);

  it('leaves no listener on the hard stop once the aborted jobs have settled', async () => {
    const hard = new AbortController();
    const w = worker({
      drainMs: 10,
      abortGraceMs: Infinity,
      hardStop: hard.signal,
      handler: gated().handler,
    });
    const { job } = q.store.enqueue({ queue: 'q', kind: 'k' });
    expect(w.fill()).toBe(1);
    await w.drain();
    expect(w.summary).toMatchObject({ released: 1, errors: 0 });
    expect(q.store.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(getEventListeners(hard.signal, 'abort')).toEqual([]);
  });
});
