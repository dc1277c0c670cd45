import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/index.js';
import { InvalidStateError, LeaseLostError, NotFoundError, ValidationError } from '../../../lib/errors.js';
import { createRegistry, type Registry } from '../../../lib/metrics.js';
import {
  assertJobLease,
  describeError,
  enqueue,
  onQueueChange,
  queueMetrics,
  SqliteQueueStore,
  type Lease,
} from '../../../lib/queue/index.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { thrown } from '../../helpers/thrown.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
let dir: string;
let db: Db;
let clock: ManualClock;
let registry: Registry;
let store: SqliteQueueStore;

beforeEach(async () => {
  ({ dir, db } = await setUpStateDb());
  clock = new ManualClock(T0);
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  store = new SqliteQueueStore(db, { clock, metrics: queueMetrics(registry, ['q']) });
});
afterEach(() => tearDownStateDb({ dir, db }));

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? NaN;
}

function row(id: number): unknown {
  return db.read((c) => c.prepare('SELECT * FROM jobs WHERE id = ?').get(id));
}

const claimOne = (owner = 'w1', leaseMs = 1000) => store.claim({ queue: 'q', owner, leaseMs })[0];

describe('enqueue', () => {
  it('fills defaults and joins the caller transaction', () => {
    expect(() =>
      db.write((c) => {
        enqueue(c, { queue: 'q', kind: 'k' }, T0);
        throw new Error('domain write failed');
      }),
    ).toThrow('domain write failed');
    expect(store.list()).toEqual([]);
    const { job, created } = db.write((c) => enqueue(c, { queue: 'q', kind: 'k', payload: { a: 1 } }, T0));
    expect(created).toBe(true);
    expect(job).toMatchObject({
      queue: 'q',
      kind: 'k',
      payload: { a: 1 },
      state: 'queued',
      attempts: 0,
      maxAttempts: 3,
      runAt: T0,
      priority: 0,
      leaseToken: 0,
      createdAt: T0,
    });
  });

  it('returns the unfinished job for a repeated dedupe key, and allows a new one once it finished', () => {
    const a = store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'g1' });
    const b = store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'g1', payload: { other: true } });
    expect(b).toEqual({ job: a.job, created: false });
    // Same key in another queue is a different job.
    expect(store.enqueue({ queue: 'r', kind: 'k', dedupeKey: 'g1' }).created).toBe(true);
    const c = claimOne();
    expect(store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'g1' }).job.id).toBe(a.job.id);
    store.complete(c.lease);
    const d = store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'g1' });
    expect(d.created).toBe(true);
    expect(d.job.id).not.toBe(a.job.id);
  });

  it('enqueueMany is all or nothing', () => {
    expect(() =>
      store.enqueueMany([
        { queue: 'q', kind: 'a' },
        { queue: 'q', kind: '' },
      ]),
    ).toThrow(ValidationError);
    expect(store.list()).toEqual([]);
    const made = store.enqueueMany([
      { queue: 'q', kind: 'a', dedupeKey: 'x' },
      { queue: 'q', kind: 'b', dedupeKey: 'x' },
    ]);
    expect(made.map((m) => m.created)).toEqual([true, false]);
    expect(made[1].job.id).toBe(made[0].job.id);
  });

  it('validates the spec, saying what is wrong', () => {
    for (const spec of [
      { queue: '', kind: 'k' },
      { queue: 'q', kind: '' },
    ])
      expect(thrown(() => store.enqueue(spec))).toMatchObject({
        constructor: ValidationError,
        message: 'enqueue needs queue and kind',
        details: spec,
      });
    for (const payload of [[], null, 'text', 7])
      expect(
        thrown(() =>
          store.enqueue({ queue: 'q', kind: 'k', payload: payload as unknown as Record<string, unknown> }),
        ),
      ).toMatchObject({
        constructor: ValidationError,
        message: 'payload must be a JSON object',
        details: { queue: 'q', kind: 'k' },
      });
    for (const maxAttempts of [0, 1.5, -1])
      expect(thrown(() => store.enqueue({ queue: 'q', kind: 'k', maxAttempts }))).toMatchObject({
        constructor: ValidationError,
        message: 'maxAttempts must be an integer ≥ 1',
        details: { maxAttempts },
      });
    expect(store.list()).toEqual([]);
    expect(store.enqueue({ queue: 'q', kind: 'k', payload: {}, maxAttempts: 1 }).created).toBe(true);
  });

  it('an insert that conflicts with no unfinished job to return is refused after one retry', () => {
    // Not reachable with the dedupe index alone inside a transaction; a second unique index stands in.
    db.conn.exec('CREATE UNIQUE INDEX test_one_job_per_kind ON jobs(kind)');
    store.enqueue({ queue: 'q', kind: 'k' });
    expect(thrown(() => store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'g' }))).toMatchObject({
      constructor: InvalidStateError,
      message: 'enqueue conflicted twice on the dedupe key',
      details: { queue: 'q', dedupeKey: 'g' },
    });
  });

  it('wakes every in-process listener on that connection until it unsubscribes', () => {
    const seen: string[] = [];
    const offA = onQueueChange(db.conn, () => seen.push('a'));
    onQueueChange(db.conn, () => seen.push('b'));
    store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'x' });
    expect(seen).toEqual(['a', 'b']);
    // Joining an unfinished job changes nothing claimable: no wake-up.
    store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'x' });
    expect(seen).toEqual(['a', 'b']);
    offA();
    store.enqueue({ queue: 'q', kind: 'k' });
    expect(seen).toEqual(['a', 'b', 'b']);
  });

  it('an ended job wakes nobody; an outcome that puts a job back (released, retry) wakes the listeners', () => {
    const seen: string[] = [];
    store.enqueue({ queue: 'q', kind: 'k' });
    onQueueChange(db.conn, () => seen.push('wake'));
    store.complete(claimOne().lease, { ok: true });
    store.countOutcome('q', 'cancelled');
    expect(seen).toEqual([]);
    store.enqueue({ queue: 'q', kind: 'k' });
    seen.length = 0;
    store.release(claimOne().lease);
    expect(seen).toEqual(['wake']);
    store.fail(claimOne().lease, new Error('transient'), { retryable: true });
    expect(seen).toEqual(['wake', 'wake']);
  });
});

describe('claim', () => {
  it('takes due jobs by priority, then run_at, then id; bumps attempts and the token', async () => {
    const low = store.enqueue({ queue: 'q', kind: 'k' }).job;
    const high = store.enqueue({ queue: 'q', kind: 'k', priority: 5 }).job;
    const later = store.enqueue({ queue: 'q', kind: 'k', priority: 9, runAt: T0 + 10_000 }).job;
    store.enqueue({ queue: 'other', kind: 'k' });
    const got = store.claim({ queue: 'q', owner: 'w1', leaseMs: 1000, limit: 5 });
    expect(got.map((j) => j.id)).toEqual([high.id, low.id]);
    expect(got[0]).toMatchObject({
      state: 'running',
      attempts: 1,
      leaseOwner: 'w1',
      leaseToken: 1,
      leaseExpiresAt: T0 + 1000,
      startedAt: T0,
    });
    expect(got[0].lease).toEqual({
      jobId: high.id,
      queue: 'q',
      owner: 'w1',
      token: 1,
      attempt: 1,
      expiresAt: T0 + 1000,
    });
    expect(store.claim({ queue: 'q', owner: 'w2', leaseMs: 1000 })).toEqual([]);
    clock.advance(10_000);
    expect(claimOne('w2').id).toBe(later.id);
    expect(await metric('contimg_queue_claims_total', { queue: 'q' })).toBe(3);
  });

  it('re-claims a running job only after its lease expired, and a job at max_attempts goes dead', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 2 });
    const first = claimOne('w1', 1000);
    clock.advance(999);
    expect(store.claim({ queue: 'q', owner: 'w2', leaseMs: 1000 })).toEqual([]);
    // The lease still holds at its expiry instant.
    clock.advance(1);
    expect(store.claim({ queue: 'q', owner: 'w2', leaseMs: 1000 })).toEqual([]);
    clock.advance(1);
    const second = claimOne('w2', 1000);
    expect(second).toMatchObject({
      id: job.id,
      attempts: 2,
      leaseToken: first.leaseToken + 1,
      leaseOwner: 'w2',
    });
    clock.advance(1001);
    expect(store.claim({ queue: 'q', owner: 'w3', leaseMs: 1000 })).toEqual([]);
    expect(store.get(job.id)).toMatchObject({ state: 'dead', attempts: 2, finishedAt: clock.now() });
    expect(store.get(job.id)?.lastError).toMatch(/lease expired/);
    expect(await metric('contimg_queue_outcomes_total', { queue: 'q', outcome: 'dead' })).toBe(1);
  });

  it('refuses a lease that is not a positive duration', () => {
    store.enqueue({ queue: 'q', kind: 'k' });
    for (const leaseMs of [0, -5, Number.NaN])
      expect(thrown(() => store.claim({ queue: 'q', owner: 'w', leaseMs }))).toMatchObject({
        constructor: ValidationError,
        message: 'leaseMs must be > 0',
        details: { leaseMs },
      });
    expect(store.list({ state: 'running' })).toEqual([]);
  });

  it('returns a batch in claim order: priority, then run_at, then id', () => {
    // Ids run against the order wanted, so the database's own order cannot pass for it.
    const late = store.enqueue({ queue: 'q', kind: 'k', runAt: T0 - 1000 }).job;
    const early = store.enqueue({ queue: 'q', kind: 'k', runAt: T0 - 2000 }).job;
    const tie1 = store.enqueue({ queue: 'q', kind: 'k', priority: 2 }).job;
    const tie2 = store.enqueue({ queue: 'q', kind: 'k', priority: 2 }).job;
    const got = store.claim({ queue: 'q', owner: 'w', leaseMs: 1000, limit: 4 });
    expect(got.map((j) => j.id)).toEqual([tie1.id, tie2.id, early.id, late.id]);
  });

  it("never takes another queue's job, queued or with an expired lease", () => {
    const other = store.enqueue({ queue: 'other', kind: 'k' }).job;
    store.claim({ queue: 'other', owner: 'w0', leaseMs: 1000 });
    clock.advance(5_000);
    expect(store.claim({ queue: 'q', owner: 'w1', leaseMs: 1000, limit: 10 })).toEqual([]);
    expect(store.get(other.id)).toMatchObject({ state: 'running', leaseOwner: 'w0', attempts: 1 });
  });

  it('a limited claim takes the most urgent of due and expired jobs together', () => {
    const low = store.enqueue({ queue: 'q', kind: 'k', priority: 1 }).job;
    const high = store.enqueue({ queue: 'q', kind: 'k', priority: 5 }).job;
    expect(claimOne('w1', 1000).id).toBe(high.id);
    clock.advance(1001);
    // The expired high-priority job comes before the queued low-priority one.
    expect(claimOne('w2', 1000)).toMatchObject({ id: high.id, attempts: 2 });
    expect(claimOne('w2', 1000).id).toBe(low.id);
  });
});

describe('token-guarded operations', () => {
  let stale: Lease;
  let id: number;
  beforeEach(async () => {
    id = store.enqueue({ queue: 'q', kind: 'k' }).job.id;
    stale = claimOne('w1', 1000).lease;
    clock.advance(1001);
    claimOne('w2', 1000);
  });

  it.each([
    ['heartbeat', () => store.heartbeat(stale, 1000)],
    ['complete', () => store.complete(stale, { ok: true })],
    ['fail', () => store.fail(stale, new Error('x'), { retryable: true })],
    ['release', () => store.release(stale)],
  ])('%s with a stale token throws LeaseLostError and changes nothing', async (name, op) => {
    const before = row(id);
    expect(thrown(op)).toMatchObject({
      constructor: LeaseLostError,
      message: `${name}: job ${id} is no longer leased with token 1`,
      details: { jobId: id, token: 1, op: name },
    });
    expect(row(id)).toEqual(before);
    expect(await metric('contimg_queue_lease_lost_total')).toBe(1);
  });

  it('assertJobLease fences a handler transaction: the current lease passes, a stale one rolls it back', () => {
    const current = store.get(id)!;
    const lease = { ...stale, token: current.leaseToken };
    db.conn.exec('CREATE TABLE side (v INTEGER)');
    db.write((c) => {
      assertJobLease(c, lease);
      c.prepare('INSERT INTO side VALUES (1)').run();
    });
    expect(
      thrown(() =>
        db.write((c) => {
          c.prepare('INSERT INTO side VALUES (2)').run();
          assertJobLease(c, stale);
        }),
      ),
    ).toMatchObject({
      constructor: LeaseLostError,
      message: `job ${id} lease token 1 is stale`,
      details: { jobId: id, token: 1, owner: 'w1' },
    });
    expect(db.read((c) => c.prepare('SELECT v FROM side').all())).toEqual([{ v: 1 }]);
    store.complete(lease);
    expect(() => db.read((c) => assertJobLease(c, lease))).toThrow(LeaseLostError);
  });
});

describe('lifecycle', () => {
  it('complete stores null for no result (or one JSON cannot hold)', () => {
    const a = store.enqueue({ queue: 'q', kind: 'k' }).job;
    const b = store.enqueue({ queue: 'q', kind: 'k' }).job;
    store.complete(claimOne().lease);
    store.complete(claimOne().lease, () => 'not JSON');
    expect(row(a.id)).toMatchObject({ state: 'done', result: null });
    expect(row(b.id)).toMatchObject({ state: 'done', result: null });
  });

  it('heartbeat extends the lease; complete stores the result', () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const c = claimOne('w1', 1000);
    clock.advance(800);
    const lease = store.heartbeat(c.lease, 1000);
    expect(lease.expiresAt).toBe(T0 + 1800);
    clock.advance(900);
    expect(store.claim({ queue: 'q', owner: 'w2', leaseMs: 1000 })).toEqual([]);
    store.complete(lease, { frames: 3 });
    expect(store.get(job.id)).toMatchObject({ state: 'done', result: { frames: 3 }, finishedAt: T0 + 1700 });
  });

  it('fail reschedules with jittered backoff, then dead; non-retryable goes dead at once', () => {
    const policy = { strategy: 'exponential' as const, baseMs: 1000, maxMs: 60_000, jitter: 0.2 };
    const s = new SqliteQueueStore(db, { clock, retryPolicy: policy, random: () => 1 });
    const { job } = s.enqueue({ queue: 'q', kind: 'k', maxAttempts: 2 });
    const c1 = s.claim({ queue: 'q', owner: 'w', leaseMs: 1000 })[0];
    expect(s.fail(c1.lease, new Error('boom'), { retryable: true })).toEqual({
      state: 'queued',
      runAt: T0 + 1200,
    });
    expect(s.get(job.id)).toMatchObject({
      state: 'queued',
      lastError: 'Error: boom',
      attempts: 1,
      leaseExpiresAt: null,
      finishedAt: null,
    });
    clock.advance(1200);
    const c2 = s.claim({ queue: 'q', owner: 'w', leaseMs: 1000 })[0];
    expect(s.fail(c2.lease, new Error('boom2'), { retryable: true }).state).toBe('dead');
    expect(s.get(job.id)).toMatchObject({
      state: 'dead',
      lastError: 'Error: boom2',
      attempts: 2,
      runAt: T0 + 1200,
      finishedAt: T0 + 1200,
    });

    const other = s.enqueue({ queue: 'q', kind: 'k', maxAttempts: 5 }).job;
    const c3 = s.claim({ queue: 'q', owner: 'w', leaseMs: 1000 })[0];
    expect(c3.id).toBe(other.id);
    expect(s.fail(c3.lease, new Error('bad input'), { retryable: false }).state).toBe('dead');
  });

  it("fail honours a per-call retry policy over the store's (the converter's RETRY_NOW: due at once)", () => {
    const slow = { strategy: 'constant' as const, baseMs: 60_000, maxMs: 60_000, jitter: 0 };
    const retryNow = { strategy: 'constant' as const, baseMs: 0, maxMs: 0, jitter: 0 };
    const s = new SqliteQueueStore(db, { clock, retryPolicy: slow });
    const { job } = s.enqueue({ queue: 'q', kind: 'k', maxAttempts: 3 });
    const c1 = s.claim({ queue: 'q', owner: 'w', leaseMs: 1000 })[0];
    clock.advance(500);
    expect(s.fail(c1.lease, new Error('daemon died'), { retryable: true, policy: retryNow })).toEqual({
      state: 'queued',
      runAt: T0 + 500,
    });
    // Claimable without the clock moving on.
    const c2 = s.claim({ queue: 'q', owner: 'w', leaseMs: 1000 })[0];
    expect(c2).toMatchObject({ id: job.id, attempts: 2 });
    // Without a per-call policy the store's applies.
    expect(s.fail(c2.lease, new Error('converter failed'), { retryable: true })).toEqual({
      state: 'queued',
      runAt: T0 + 500 + 60_000,
    });
  });

  it('release hands the job back at once without spending the attempt; the old token is then stale', async () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    const c = claimOne();
    store.release(c.lease);
    expect(store.get(job.id)).toMatchObject({ state: 'queued', attempts: 0, runAt: T0 });
    expect(() => store.complete(c.lease)).toThrow(LeaseLostError);
    expect(claimOne('w2')).toMatchObject({ id: job.id, attempts: 1, leaseToken: 2 });
    expect(await metric('contimg_queue_outcomes_total', { queue: 'q', outcome: 'released' })).toBe(1);
  });

  it('cancel stops queued and running jobs (the running holder loses its lease)', () => {
    const a = store.enqueue({ queue: 'q', kind: 'k' }).job;
    const b = store.enqueue({ queue: 'q', kind: 'k' }).job;
    const c = claimOne();
    expect(store.cancel(a.id).state).toBe('cancelled');
    expect(() => store.heartbeat(c.lease, 1000)).toThrow(LeaseLostError);
    expect(store.cancel(b.id).state).toBe('cancelled');
    expect(thrown(() => store.cancel(b.id))).toMatchObject({
      constructor: InvalidStateError,
      message: `cannot cancel job ${b.id}: it is cancelled, not queued or running`,
      details: { id: b.id, state: 'cancelled' },
    });
    expect(thrown(() => store.cancel(999))).toMatchObject({
      constructor: NotFoundError,
      message: 'job 999 not found',
      details: { id: 999 },
    });
  });

  it('counts cancellations per queue', async () => {
    store.cancel(store.enqueue({ queue: 'q', kind: 'k' }).job.id);
    expect(await metric('contimg_queue_outcomes_total', { queue: 'q', outcome: 'cancelled' })).toBe(1);
  });

  it('redrive requeues only dead jobs, resetting attempts', () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 1 });
    expect(thrown(() => store.redrive(job.id))).toMatchObject({
      constructor: InvalidStateError,
      message: `cannot redrive job ${job.id}: it is queued, not dead`,
    });
    expect(thrown(() => store.redrive(999))).toMatchObject({ constructor: NotFoundError });
    store.fail(claimOne().lease, new Error('x'), { retryable: true });
    expect(store.get(job.id)?.state).toBe('dead');
    clock.advance(5);
    expect(store.redrive(job.id)).toMatchObject({
      state: 'queued',
      attempts: 0,
      runAt: T0 + 5,
      finishedAt: null,
    });
    expect(claimOne().id).toBe(job.id);
  });

  it('redrive is refused when another unfinished job holds the dedupe key', () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'g', maxAttempts: 1 });
    store.fail(claimOne().lease, new Error('x'), { retryable: false });
    store.enqueue({ queue: 'q', kind: 'k', dedupeKey: 'g' });
    expect(thrown(() => store.redrive(job.id))).toMatchObject({
      constructor: InvalidStateError,
      message: `job ${job.id}: another unfinished job has the same dedupe key`,
      details: { id: job.id },
    });
    expect(store.get(job.id)?.state).toBe('dead');
  });

  it('redrive passes other database errors on as they are', () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 1 });
    store.fail(claimOne().lease, new Error('x'), { retryable: false });
    db.conn.exec(
      "CREATE TRIGGER test_no_redrive BEFORE UPDATE ON jobs BEGIN SELECT RAISE(ABORT, 'frozen'); END",
    );
    const err = thrown(() => store.redrive(job.id));
    expect(err).not.toBeInstanceOf(InvalidStateError);
    expect(String(err)).toMatch(/frozen/);
  });
});

describe('outcomes and lost leases, as counted', () => {
  const outcome = (o: string): Promise<number> =>
    metric('contimg_queue_outcomes_total', { queue: 'q', outcome: o });

  it('counts a rescheduled failure as retry and a final one as dead', async () => {
    store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 3 });
    const first = claimOne();
    const retry = store.fail(first.lease, new Error('transient'), { retryable: true });
    expect(retry.state).toBe('queued');
    expect([await outcome('retry'), await outcome('dead')]).toEqual([1, 0]);
    clock.advance(retry.runAt - clock.now());
    expect(store.fail(claimOne().lease, new Error('bad input'), { retryable: false }).state).toBe('dead');
    expect([await outcome('retry'), await outcome('dead')]).toEqual([1, 1]);
    expect(store.get(first.id)).toMatchObject({ state: 'dead', attempts: 2 });
  });

  it('an error other than a lost lease in a fenced write or a heartbeat is not counted as a lost lease', async () => {
    store.enqueue({ queue: 'q', kind: 'k' });
    const { lease } = claimOne();
    // The table gone from under the statements: SQLite refuses the write itself, the lease is not the reason.
    db.conn.exec('ALTER TABLE jobs RENAME TO jobs_away');
    expect(thrown(() => store.complete(lease, { ok: true }))).not.toBeInstanceOf(LeaseLostError);
    const beat = await store.heartbeatAsync(lease, 1000, { budgetMs: 1000 }).catch((e: unknown) => e);
    expect(beat).toBeInstanceOf(Error);
    expect(beat).not.toBeInstanceOf(LeaseLostError);
    expect(await metric('contimg_queue_lease_lost_total')).toBe(0);
    db.conn.exec('ALTER TABLE jobs_away RENAME TO jobs');
  });
});

describe('list, stats, prune', () => {
  it('lists newest first with filters and keyset pages', () => {
    for (let i = 0; i < 5; i++) store.enqueue({ queue: i % 2 ? 'q' : 'r', kind: `k${i}` });
    expect(store.list().map((j) => j.kind)).toEqual(['k4', 'k3', 'k2', 'k1', 'k0']);
    expect(store.list({ queue: 'q' }).map((j) => j.kind)).toEqual(['k3', 'k1']);
    const page1 = store.list({ limit: 2 });
    expect(store.list({ limit: 2, beforeId: page1[1].id }).map((j) => j.kind)).toEqual(['k2', 'k1']);
    expect(store.list({ kind: 'k0', state: 'queued' })).toHaveLength(1);
    store.complete(store.claim({ queue: 'r', owner: 'w', leaseMs: 1000 })[0].lease);
    expect(store.list({ state: 'done' }).map((j) => j.kind)).toEqual(['k0']);
    expect(store.list({ limit: 0 })).toHaveLength(1);
  });

  it('a page holds at most 10,000 jobs', () => {
    store.enqueueMany(Array.from({ length: 10_001 }, () => ({ queue: 'q', kind: 'k' })));
    expect(store.list({ limit: 20_000 })).toHaveLength(10_000);
  });

  it('stats come sorted by queue name', () => {
    store.enqueue({ queue: 'zeta', kind: 'k' });
    store.enqueue({ queue: 'alpha', kind: 'k' });
    store.enqueue({ queue: 'mid', kind: 'k' });
    expect(store.stats().map((q) => q.queue)).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('counts finished jobs in every state beside the unfinished ones, per queue', () => {
    // Unfinished and finished jobs are counted from different indexes (jobs_claim, jobs_finished).
    for (let i = 0; i < 6; i++) store.enqueue({ queue: 'q', kind: 'k' });
    store.enqueue({ queue: 'other', kind: 'k' });
    store.complete(claimOne().lease);
    store.complete(claimOne().lease);
    store.fail(claimOne().lease, new Error('no'), { retryable: false });
    store.cancel(store.list({ queue: 'q', state: 'queued' })[0].id);
    claimOne();
    store.complete(store.claim({ queue: 'other', owner: 'w', leaseMs: 1000 })[0].lease);
    expect(store.stats()).toEqual([
      {
        queue: 'other',
        counts: { queued: 0, running: 0, done: 1, failed: 0, dead: 0, cancelled: 0 },
        oldestAgeMs: 0,
      },
      {
        queue: 'q',
        counts: { queued: 1, running: 1, done: 2, failed: 0, dead: 1, cancelled: 1 },
        oldestAgeMs: 0,
      },
    ]);
  });

  it('counts by state and reports the oldest due age; gauges follow', async () => {
    store.enqueue({ queue: 'q', kind: 'k' });
    clock.advance(3000);
    store.enqueue({ queue: 'q', kind: 'k' });
    store.enqueue({ queue: 'q', kind: 'k', runAt: T0 + 100_000 });
    claimOne();
    expect(store.refreshGauges(['q', 'empty'])).toEqual([
      {
        queue: 'q',
        counts: { queued: 2, running: 1, done: 0, failed: 0, dead: 0, cancelled: 0 },
        oldestAgeMs: 0,
      },
    ]);
    clock.advance(2000);
    expect(store.stats()[0].oldestAgeMs).toBe(2000);
    expect(await metric('contimg_queue_jobs', { queue: 'q', state: 'queued' })).toBe(2);
    expect(await metric('contimg_queue_jobs', { queue: 'empty', state: 'queued' })).toBe(0);
    expect(await metric('contimg_queue_oldest_age_seconds', { queue: 'empty' })).toBe(0);
    store.refreshGauges();
    expect(await metric('contimg_queue_oldest_age_seconds', { queue: 'q' })).toBe(2);
    // Only queues that exist or were named have series.
    const queues = async (name: string): Promise<string[]> => [
      ...new Set((await registry.getSingleMetric(name)!.get()).values.map((v) => String(v.labels.queue))),
    ];
    expect((await queues('contimg_queue_jobs')).sort()).toEqual(['empty', 'q']);
    expect((await queues('contimg_queue_oldest_age_seconds')).sort()).toEqual(['empty', 'q']);
  });

  it('prunes cancelled jobs too by default, and only the states asked for otherwise', () => {
    const cancelled = store.enqueue({ queue: 'q', kind: 'k' }).job;
    store.cancel(cancelled.id);
    const dead = store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 1 }).job;
    store.fail(claimOne().lease, new Error('x'), { retryable: false });
    clock.advance(10_000);
    expect(store.prune(5_000, { states: ['dead'] })).toBe(1);
    expect(store.get(dead.id)).toBeUndefined();
    expect(store.prune(5_000)).toBe(1);
    expect(store.get(cancelled.id)).toBeUndefined();
  });

  it('prunes old finished jobs in batches, keeping dead ones and parents of reruns until last', () => {
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 1 }).job.id);
      const c = claimOne();
      if (i === 6) store.fail(c.lease, new Error('x'), { retryable: false });
      else store.complete(c.lease);
    }
    const child = store.rerun(ids[0]);
    store.complete(claimOne().lease);
    clock.advance(5_000);
    // Finished exactly at the cutoff: not older than it, so kept.
    const edge = store.enqueue({ queue: 'q', kind: 'k' }).job;
    store.complete(claimOne().lease);
    clock.advance(5_000);
    const recent = store.enqueue({ queue: 'q', kind: 'k' }).job;
    store.complete(claimOne().lease);
    expect(store.prune(5_000, { batch: 2 })).toBe(7);
    const left = store.list().map((j) => j.id);
    expect(left.sort((a, b) => a - b)).toEqual([ids[6], edge.id, recent.id]);
    expect(left).not.toContain(child.id);
  });
});

describe('describeError', () => {
  it('is `Name [code]: message`, never a stack, and at most 2,000 characters', () => {
    expect(describeError(Object.assign(new TypeError('bad'), { code: 'E_BAD' }))).toBe(
      'TypeError [E_BAD]: bad',
    );
    expect(describeError('plain')).toBe('Error: plain');
    const fits = 'x'.repeat(2000 - 'Error: '.length);
    expect(describeError(new Error(fits))).toBe(`Error: ${fits}`);
    const long = describeError(new Error(`${fits}y`));
    expect(long).toHaveLength(2000);
    expect(long.endsWith('x…')).toBe(true);
  });
});
