// The durable job queue on the state database's `jobs` table (platform.md §7.4, §8.2). Every operation is
// one short BEGIN IMMEDIATE through db.write; the claim is a single UPDATE … RETURNING. Operations on a
// claimed job are guarded by its fencing token and throw LeaseLostError, changing nothing, when it is stale.
import { BACKOFF_PRESETS, backoffMs, type BackoffPolicy } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import type { Connection, Db } from '../db/index.js';
import { InvalidStateError, LeaseLostError, NotFoundError, ValidationError } from '../errors.js';
import type { QueueMetrics } from './metrics.js';
import { rerunRunId } from './run-id.js';
import { queueStatements, toJob, type QueueStatements } from './sql.js';
import {
  JOB_STATES,
  type ClaimedJob,
  type ClaimOptions,
  type EnqueueSpec,
  type Job,
  type JobState,
  type JsonObject,
  type Lease,
  type ListFilter,
  type QueueStats,
} from './types.js';

const MAX_ERROR_CHARS = 2000;

// In-process wake-ups: a worker sleeping on this connection wakes when something here made work claimable
// (data_version only moves for commits made by other connections).
const listeners = new WeakMap<Connection, Set<() => void>>();
export function onQueueChange(conn: Connection, fn: () => void): () => void {
  let set = listeners.get(conn);
  if (!set) listeners.set(conn, (set = new Set()));
  set.add(fn);
  return () => set.delete(fn);
}
function notify(conn: Connection): void {
  for (const fn of listeners.get(conn) ?? []) fn();
}

function checkSpec(spec: EnqueueSpec): void {
  if (!spec.queue || !spec.kind) throw new ValidationError('enqueue needs queue and kind', { ...spec });
  if (
    spec.payload !== undefined &&
    (typeof spec.payload !== 'object' || spec.payload === null || Array.isArray(spec.payload))
  )
    throw new ValidationError('payload must be a JSON object', { queue: spec.queue, kind: spec.kind });
  if (spec.maxAttempts !== undefined && !(Number.isInteger(spec.maxAttempts) && spec.maxAttempts >= 1))
    throw new ValidationError('maxAttempts must be an integer ≥ 1', { maxAttempts: spec.maxAttempts });
}

/**
 * Add a job, joining the caller's transaction (call it inside db.write with the write connection). With a
 * dedupe key, an unfinished (queued or running) job with the same key in the same queue is returned
 * instead of a second one: `created` says which happened.
 */
export function enqueue(conn: Connection, spec: EnqueueSpec, nowMs: number): { job: Job; created: boolean } {
  checkSpec(spec);
  const s = queueStatements(conn);
  const params = {
    queue: spec.queue,
    kind: spec.kind,
    payload: JSON.stringify(spec.payload ?? {}),
    dedupeKey: spec.dedupeKey ?? null,
    runId: spec.runId ?? null,
    priority: spec.priority ?? 0,
    runAt: spec.runAt ?? nowMs,
    maxAttempts: spec.maxAttempts ?? 3,
    timeoutMs: spec.timeoutMs ?? null,
    parentId: spec.parentId ?? null,
    now: nowMs,
  };
  // Outside a transaction the existing job could finish between the two statements; one retry covers it.
  const outcome = insertOrFind(s, params) ?? insertOrFind(s, params);
  if (!outcome)
    throw new InvalidStateError('enqueue conflicted twice on the dedupe key', {
      queue: spec.queue,
      dedupeKey: spec.dedupeKey,
    });
  if (outcome.created) notify(conn);
  return outcome;
}

function insertOrFind(
  s: QueueStatements,
  params: Record<string, unknown>,
): { job: Job; created: boolean } | null {
  const inserted = s.insert.get(params);
  if (inserted) return { job: toJob(inserted), created: true };
  const existing = s.findUnfinished.get(params);
  return existing ? { job: toJob(existing), created: false } : null;
}

/**
 * The fencing check for handlers: call inside your own db.write before committing domain changes made
 * under a job lease. Throws LeaseLostError (rolling the transaction back) if the lease is no longer yours.
 */
export function assertJobLease(conn: Connection, lease: Lease): void {
  if (!queueStatements(conn).fence.get({ id: lease.jobId, token: lease.token }))
    throw new LeaseLostError(`job ${lease.jobId} lease token ${lease.token} is stale`, { ...lease });
}

export interface QueueStoreOptions {
  clock?: Clock;
  metrics?: QueueMetrics;
  /** Retry delays for fail(); STANDARD (1 s doubling to 60 s, ±20 %) by default. */
  retryPolicy?: BackoffPolicy;
  /** Injectable for tests that check jitter bounds. */
  random?: () => number;
}

export class SqliteQueueStore {
  readonly db: Db;
  readonly clock: Clock;
  readonly retryPolicy: BackoffPolicy;
  private readonly metrics?: QueueMetrics;
  private readonly random: () => number;
  private readonly s: QueueStatements;

  constructor(db: Db, opts: QueueStoreOptions = {}) {
    this.db = db;
    this.clock = opts.clock ?? systemClock;
    this.metrics = opts.metrics;
    this.retryPolicy = opts.retryPolicy ?? BACKOFF_PRESETS.STANDARD;
    this.random = opts.random ?? Math.random;
    this.s = queueStatements(db.conn);
  }

  /** Enqueue in its own transaction. Inside a domain transaction use the free function enqueue(conn, …). */
  enqueue(spec: EnqueueSpec): { job: Job; created: boolean } {
    return this.db.write((c) => enqueue(c, spec, this.clock.now()));
  }

  /** Enqueue several jobs in one transaction (all or none). */
  enqueueMany(specs: EnqueueSpec[]): { job: Job; created: boolean }[] {
    return this.db.write((c) => specs.map((spec) => enqueue(c, spec, this.clock.now())));
  }

  /** Claim up to `limit` due jobs (or jobs whose lease expired) in one UPDATE … RETURNING. */
  claim(opts: ClaimOptions): ClaimedJob[] {
    if (!(opts.leaseMs > 0)) throw new ValidationError('leaseMs must be > 0', { leaseMs: opts.leaseMs });
    const now = this.clock.now();
    const rows = this.db.write(() =>
      this.s.claim.all({
        queue: opts.queue,
        owner: opts.owner,
        now,
        expires: now + opts.leaseMs,
        limit: opts.limit ?? 1,
      }),
    );
    const claimed: ClaimedJob[] = [];
    for (const raw of rows) {
      const job = toJob(raw);
      if (job.state === 'dead') {
        this.metrics?.outcomes.inc({ queue: job.queue, outcome: 'dead' });
        continue;
      }
      const lease: Lease = {
        jobId: job.id,
        queue: job.queue,
        owner: opts.owner,
        token: job.leaseToken,
        attempt: job.attempts,
        expiresAt: now + opts.leaseMs,
      };
      claimed.push({ ...job, lease });
    }
    this.metrics?.claims.inc({ queue: opts.queue }, claimed.length);
    return claimed.sort(
      (a, b) =>
        b.priority - a.priority ||
        a.runAt - b.runAt ||
        // SQLite returns the updated rows in id order today, so this last tie-break changes nothing (yet).
        // Stryker disable next-line ArithmeticOperator: equivalent, see above.
        a.id - b.id,
    );
  }

  private lost(lease: Lease, op: string): LeaseLostError {
    this.metrics?.leaseLost.inc();
    return new LeaseLostError(`${op}: job ${lease.jobId} is no longer leased with token ${lease.token}`, {
      jobId: lease.jobId,
      token: lease.token,
      op,
    });
  }

  /** Extend the lease to now + leaseMs. Returns the updated lease. */
  heartbeat(lease: Lease, leaseMs: number): Lease {
    const now = this.clock.now();
    const row = this.db.write(() =>
      this.s.heartbeat.get({ id: lease.jobId, token: lease.token, now, expires: now + leaseMs }),
    );
    if (!row) throw this.lost(lease, 'heartbeat');
    return { ...lease, expiresAt: row.lease_expires_at };
  }

  complete(lease: Lease, result?: unknown): void {
    const now = this.clock.now();
    // undefined (and anything else JSON cannot hold) is stored as null.
    const json = JSON.stringify(result) ?? null;
    const { changes } = this.db.write(() =>
      this.s.complete.run({ id: lease.jobId, token: lease.token, now, result: json }),
    );
    if (changes === 0) throw this.lost(lease, 'complete');
    this.metrics?.outcomes.inc({ queue: lease.queue, outcome: 'done' });
  }

  /**
   * Record a failed attempt: reschedule at now + backoff (jittered, capped) while attempts remain and the
   * error is retryable, otherwise `dead`. last_error keeps the message either way.
   */
  fail(
    lease: Lease,
    err: unknown,
    opts: { retryable: boolean; policy?: BackoffPolicy },
  ): { state: 'queued' | 'dead'; runAt: number } {
    const now = this.clock.now();
    const delay = backoffMs(opts.policy ?? this.retryPolicy, lease.attempt, this.random);
    const row = this.db.write(() =>
      this.s.fail.get({
        id: lease.jobId,
        token: lease.token,
        now,
        retryable: opts.retryable ? 1 : 0,
        retryAt: now + delay,
        error: describeError(err),
      }),
    );
    if (!row) throw this.lost(lease, 'fail');
    const state = row.state === 'queued' ? 'queued' : 'dead';
    this.metrics?.outcomes.inc({ queue: lease.queue, outcome: state === 'queued' ? 'retry' : 'dead' });
    // A retry may be due at once (RETRY_NOW): wake idle workers on this connection (for a dead job they find
    // nothing and sleep again).
    notify(this.db.conn);
    return { state, runAt: row.run_at };
  }

  /** Hand a job back (shutdown): queued again, claimable at once, the attempt not counted. */
  release(lease: Lease): void {
    const now = this.clock.now();
    const { changes } = this.db.write(() => this.s.release.run({ id: lease.jobId, token: lease.token, now }));
    if (changes === 0) throw this.lost(lease, 'release');
    this.metrics?.outcomes.inc({ queue: lease.queue, outcome: 'released' });
    notify(this.db.conn);
  }

  /** Cancel a queued or running job (a running one's worker loses its lease at the next heartbeat). */
  cancel(id: number): Job {
    const now = this.clock.now();
    return this.db.write(() => {
      if (this.s.cancel.run({ id, now }).changes === 0) this.refuse(id, 'cancel', 'queued or running');
      const job = toJob(this.s.get.get(id)!);
      this.metrics?.outcomes.inc({ queue: job.queue, outcome: 'cancelled' });
      return job;
    });
  }

  /** dead → queued with attempts reset; refused (409) unless dead. */
  redrive(id: number): Job {
    const now = this.clock.now();
    const job = this.db.write(() => {
      try {
        if (this.s.redrive.run({ id, now }).changes === 0) this.refuse(id, 'redrive', 'dead');
      } catch (e) {
        throw dedupeClash(e, id);
      }
      return toJob(this.s.get.get(id)!);
    });
    notify(this.db.conn);
    return job;
  }

  /**
   * A new job from a finished one: payload shallow-merged with overrides, parent_id set, run id
   * `<base>_rerun_YYYYMMDD_HHMMSS`. Refused (409) while the original is still queued or running.
   */
  rerun(id: number, overrides: JsonObject = {}): Job {
    const now = this.clock.now();
    const job = this.db.write((c) => {
      const raw = this.s.get.get(id);
      if (!raw) throw new NotFoundError(`job ${id} not found`, { id });
      const original = toJob(raw);
      if (original.state === 'queued' || original.state === 'running')
        throw new InvalidStateError(`job ${id} is ${original.state}; rerun it once it has finished`, {
          id,
          state: original.state,
        });
      return enqueue(
        c,
        {
          queue: original.queue,
          kind: original.kind,
          payload: { ...original.payload, ...overrides },
          dedupeKey: original.dedupeKey,
          runId: rerunRunId(original, now),
          priority: original.priority,
          maxAttempts: original.maxAttempts,
          timeoutMs: original.timeoutMs,
          parentId: original.id,
        },
        now,
      );
    });
    if (!job.created)
      throw new InvalidStateError(`job ${job.job.id} with the same dedupe key is already unfinished`, {
        id,
        existing: job.job.id,
      });
    return job.job;
  }

  get(id: number): Job | undefined {
    const raw = this.db.read(() => this.s.get.get(id));
    return raw ? toJob(raw) : undefined;
  }

  /** Newest first; page with beforeId = the last id seen. */
  list(filter: ListFilter = {}): Job[] {
    const rows = this.db.read(() =>
      this.s.list.all({
        queue: filter.queue ?? null,
        state: filter.state ?? null,
        kind: filter.kind ?? null,
        parentId: filter.parentId ?? null,
        beforeId: filter.beforeId ?? null,
        limit: Math.min(Math.max(filter.limit ?? 100, 1), 10_000),
      }),
    );
    return rows.map(toJob);
  }

  /** Counts by state and the oldest due job's age, per queue by name (queues with no rows are absent). */
  stats(): QueueStats[] {
    const now = this.clock.now();
    const byQueue = new Map<string, QueueStats>();
    for (const r of this.db.read(() => this.s.stats.all({ now }))) {
      let q = byQueue.get(r.queue);
      if (!q) {
        q = { queue: r.queue, counts: zeroCounts(), oldestAgeMs: 0 };
        byQueue.set(r.queue, q);
      }
      q.counts[r.state] = r.n;
      if (r.oldest_due !== null) q.oldestAgeMs = Math.max(0, now - r.oldest_due);
    }
    return [...byQueue.values()];
  }

  /** Set the contimg_queue_jobs and oldest-age gauges from stats(); `queues` are zeroed when empty. */
  refreshGauges(queues: readonly string[] = []): QueueStats[] {
    const stats = this.stats();
    if (!this.metrics) return stats;
    const seen = new Set<string>();
    for (const q of stats) {
      seen.add(q.queue);
      for (const state of JOB_STATES) this.metrics.jobs.set({ queue: q.queue, state }, q.counts[state]);
      this.metrics.oldestAgeSeconds.set({ queue: q.queue }, q.oldestAgeMs / 1000);
    }
    for (const queue of queues.filter((q) => !seen.has(q))) {
      for (const state of JOB_STATES) this.metrics.jobs.set({ queue, state }, 0);
      this.metrics.oldestAgeSeconds.set({ queue }, 0);
    }
    return stats;
  }

  /**
   * Delete finished jobs older than `olderThanMs`, `batch` rows per short transaction so writers are never
   * held up for long. Dead jobs are kept unless asked for: an operator may still redrive them.
   */
  prune(olderThanMs: number, opts: { batch?: number; states?: JobState[] } = {}): number {
    const cutoff = this.clock.now() - olderThanMs;
    const states = JSON.stringify(opts.states ?? ['done', 'cancelled']);
    const batch = opts.batch ?? 500;
    let total = 0;
    for (;;) {
      const { changes } = this.db.write(() => this.s.prune.run({ cutoff, states, batch }));
      total += changes;
      if (changes < batch) return total;
    }
  }

  private refuse(id: number, op: string, allowed: string): never {
    const raw = this.s.get.get(id);
    if (!raw) throw new NotFoundError(`job ${id} not found`, { id });
    throw new InvalidStateError(`cannot ${op} job ${id}: it is ${raw.state}, not ${allowed}`, {
      id,
      state: raw.state,
    });
  }
}

function zeroCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
}

// Inside db.write the raw SqliteError is seen (db.write classifies it only on the way out).
function dedupeClash(e: unknown, id: number): unknown {
  if ((e as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE')
    return new InvalidStateError(`job ${id}: another unfinished job has the same dedupe key`, { id });
  return e;
}

/** `Name: message` (code when present), truncated; never a stack (it would bloat the row and leak paths). */
export function describeError(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' ? ` [${e.code}]` : '';
  const text = `${name}${code}: ${message}`;
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}
