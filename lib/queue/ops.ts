// The queue's operations on claimed jobs, each one or two statements inside the CALLER's write transaction:
// the store wraps each in its own db.write, and the worker runs them beside a daemon's domain writes (its
// claim and settle hooks), so the queue change and the domain change commit or roll back together. Every
// operation on a claimed job is fenced by its lease token: a stale holder gets LeaseLostError and changes
// nothing. Metrics are the caller's: it counts once the transaction has committed.
import { backoffMs, type BackoffPolicy } from '../backoff.js';
import type { Connection } from '../db/index.js';
import { LeaseLostError, ValidationError } from '../errors.js';
import { queueStatements, toJob } from './sql.js';

export { BURIED_ERROR } from './sql.js';
import type { ClaimedJob, ClaimOptions, Job, JsonObject, Lease } from './types.js';

const MAX_ERROR_CHARS = 2000;

/** What a claim took: jobs to run, and jobs it buried (their last attempt's lease had expired). */
export interface ClaimResult {
  claimed: ClaimedJob[];
  /** Running jobs at max_attempts whose lease expired: now `dead`, their last holder gone or stalled. */
  buried: ClaimedJob[];
}

export function leaseLost(lease: Pick<Lease, 'jobId' | 'token'>, op: string): LeaseLostError {
  return new LeaseLostError(`${op}: job ${lease.jobId} is no longer leased with token ${lease.token}`, {
    jobId: lease.jobId,
    token: lease.token,
    op,
  });
}

/** Claim up to `limit` due jobs (or jobs whose lease expired) in one UPDATE … RETURNING, claim order. */
export function claimIn(conn: Connection, opts: ClaimOptions, now: number): ClaimResult {
  if (!(opts.leaseMs > 0)) throw new ValidationError('leaseMs must be > 0', { leaseMs: opts.leaseMs });
  const rows = queueStatements(conn).claim.all({
    queue: opts.queue,
    owner: opts.owner,
    now,
    expires: now + opts.leaseMs,
    limit: opts.limit ?? 1,
  });
  const out: ClaimResult = { claimed: [], buried: [] };
  for (const raw of rows) {
    const job = toJob(raw);
    const lease: Lease = {
      jobId: job.id,
      queue: job.queue,
      owner: opts.owner,
      token: job.leaseToken,
      attempt: job.attempts,
      expiresAt: now + opts.leaseMs,
    };
    (job.state === 'dead' ? out.buried : out.claimed).push({ ...job, lease });
  }
  out.claimed.sort(
    (a, b) =>
      b.priority - a.priority ||
      a.runAt - b.runAt ||
      // SQLite returns the updated rows in id order today, so this last tie-break changes nothing (yet).
      // Stryker disable next-line ArithmeticOperator: equivalent, see above.
      a.id - b.id,
  );
  return out;
}

/** A job read inside the caller's transaction (a daemon joining its rows to its job's state). */
export function jobIn(conn: Connection, id: number): Job | undefined {
  const raw = queueStatements(conn).get.get(id);
  return raw ? toJob(raw) : undefined;
}

/**
 * Cancel a job only while it is still queued, inside the caller's transaction (a planner replacing a plan whose
 * build has not started). A running job is its holder's to stop (store.cancel). True when it was cancelled.
 */
export function cancelQueuedIn(conn: Connection, id: number, now: number): boolean {
  return queueStatements(conn).cancelQueued.run({ id, now }).changes > 0;
}

/** Would a claim on `queue` find a job now (a due queued one, or a running one whose lease expired)? A read. */
export function claimableIn(conn: Connection, queue: string, now: number): boolean {
  return queueStatements(conn).claimable.get({ queue, now })?.due === 1;
}

/** Extend the lease to now + leaseMs. */
export function heartbeatIn(conn: Connection, lease: Lease, leaseMs: number, now: number): Lease {
  const row = queueStatements(conn).heartbeat.get({
    id: lease.jobId,
    token: lease.token,
    now,
    expires: now + leaseMs,
  });
  if (!row) throw leaseLost(lease, 'heartbeat');
  return { ...lease, expiresAt: row.lease_expires_at };
}

export function completeIn(conn: Connection, lease: Lease, result: unknown, now: number): void {
  // undefined (and anything else JSON cannot hold) is stored as null.
  const json = JSON.stringify(result) ?? null;
  const { changes } = queueStatements(conn).complete.run({
    id: lease.jobId,
    token: lease.token,
    now,
    result: json,
  });
  if (changes === 0) throw leaseLost(lease, 'complete');
}

/**
 * Record a failed attempt: rescheduled at now + the policy's delay (jittered, capped) while attempts remain
 * and the error is retryable, otherwise `dead`. last_error keeps the message either way. The queue decides.
 */
export function failIn(
  conn: Connection,
  lease: Lease,
  err: unknown,
  opts: { retryable: boolean; policy: BackoffPolicy; random?: () => number },
  now: number,
): { state: 'queued' | 'dead'; runAt: number; error: string } {
  const error = describeError(err);
  const delay = backoffMs(opts.policy, lease.attempt, opts.random);
  const row = queueStatements(conn).fail.get({
    id: lease.jobId,
    token: lease.token,
    now,
    retryable: opts.retryable ? 1 : 0,
    retryAt: now + delay,
    error,
  });
  if (!row) throw leaseLost(lease, 'fail');
  return { state: row.state === 'queued' ? 'queued' : 'dead', runAt: row.run_at, error };
}

/** Hand a job back (shutdown): queued again, claimable at once, the attempt not counted. */
export function releaseIn(conn: Connection, lease: Lease, now: number): void {
  const { changes } = queueStatements(conn).release.run({ id: lease.jobId, token: lease.token, now });
  if (changes === 0) throw leaseLost(lease, 'release');
}

/**
 * The fencing check for handlers: call inside your own db.write before committing domain changes made
 * under a job lease. Throws LeaseLostError (rolling the transaction back) if the lease is no longer yours.
 */
export function assertJobLease(conn: Connection, lease: Lease): void {
  if (!queueStatements(conn).fence.get({ id: lease.jobId, token: lease.token }))
    throw new LeaseLostError(`job ${lease.jobId} lease token ${lease.token} is stale`, { ...lease });
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

/** A payload must be a JSON object (arrays and scalars are refused at enqueue). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
