// The job queue's public shapes. Times are ms since the epoch; payloads and results are JSON.
import type { BackoffPolicy } from '../backoff.js';
import type { Connection } from '../db/index.js';
import type { Logger } from '../log.js';

export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'dead', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Closed set of outcome labels for contimg_queue_outcomes_total. */
export const JOB_OUTCOMES = ['done', 'retry', 'dead', 'released', 'cancelled'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

export type JsonObject = Record<string, unknown>;

export interface EnqueueSpec {
  queue: string;
  /** The handler name; one queue can carry several kinds. */
  kind: string;
  payload?: JsonObject;
  /** Idempotency: while a job with this key is queued or running in the queue, enqueue returns it. */
  dedupeKey?: string | null;
  /** The operator-facing run id (reruns derive `<base>_rerun_YYYYMMDD_HHMMSS` from it). */
  runId?: string | null;
  /** Higher runs first. */
  priority?: number;
  /** Not claimable before this time (default now). */
  runAt?: number;
  maxAttempts?: number;
  /** Handler timeout for this job; the worker's default when absent. */
  timeoutMs?: number | null;
  parentId?: number | null;
}

export interface Job<P = JsonObject> {
  id: number;
  queue: string;
  kind: string;
  payload: P;
  dedupeKey: string | null;
  runId: string | null;
  priority: number;
  runAt: number;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number | null;
  leaseOwner: string | null;
  leaseToken: number;
  leaseExpiresAt: number | null;
  lastError: string | null;
  result: unknown;
  parentId: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
}

/** Proof of a claim. Every later operation on the job is guarded by (jobId, token). */
export interface Lease {
  jobId: number;
  queue: string;
  owner: string;
  token: number;
  /** The attempt number this claim started (1 = first run); drives the retry delay. */
  attempt: number;
  expiresAt: number;
}

export interface ClaimedJob<P = JsonObject> extends Job<P> {
  lease: Lease;
}

export interface ClaimOptions {
  queue: string;
  owner: string;
  leaseMs: number;
  /** How many jobs to claim at most (default 1). */
  limit?: number;
}

export interface ListFilter {
  queue?: string;
  state?: JobState;
  kind?: string;
  parentId?: number;
  /** Keyset pagination: only ids below this one (results are newest first). */
  beforeId?: number;
  limit?: number;
}

export interface QueueStats {
  queue: string;
  counts: Record<JobState, number>;
  /** Age of the oldest queued job that is due (0 when none). */
  oldestAgeMs: number;
}

export interface HandlerContext<C = undefined> {
  /** Aborts on job timeout (reason JobTimeoutError), shutdown (ShutdownError) or a lost lease. */
  signal: AbortSignal;
  log: Logger;
  /** What the worker's onClaim hook returned for this job (undefined without the hook). */
  claim: C;
  /** Extend the lease now (the worker also does this every leaseMs/3). Throws LeaseLostError. */
  heartbeat(): void;
}

/**
 * A handler returns a result (the job is done) or throws (the attempt failed: retried while attempts remain
 * and the error is retryable, else dead). A Settlement says more: a failure with its own retry decision and
 * delay, or a hand-back that spends no attempt (Settle.failed, Settle.released). The queue decides the rest (retry or dead by attempts left).
 */
export type JobHandler<P = JsonObject, C = undefined> = (
  job: ClaimedJob<P>,
  ctx: HandlerContext<C>,
) => Promise<unknown>;

const OUTCOME = Symbol('Settlement');

export type Settlement =
  | { readonly [OUTCOME]: true; readonly settle: 'done'; readonly result: unknown }
  | {
      readonly [OUTCOME]: true;
      readonly settle: 'failed';
      readonly error: unknown;
      readonly retryable: boolean;
      /** The retry delay for this failure; the worker's (or store's) policy when absent. */
      readonly retryPolicy?: BackoffPolicy;
    }
  | { readonly [OUTCOME]: true; readonly settle: 'released' };

export const Settle = Object.freeze({
  done: (result?: unknown): Settlement => ({ [OUTCOME]: true, settle: 'done', result }),
  failed: (error: unknown, o: { retryable: boolean; retryPolicy?: BackoffPolicy }): Settlement => ({
    [OUTCOME]: true,
    settle: 'failed',
    error,
    retryable: o.retryable,
    ...(o.retryPolicy && { retryPolicy: o.retryPolicy }),
  }),
  /** Hand the job back, claimable at once, the attempt not counted (shutdown, not the job's fault). */
  released: (): Settlement => ({ [OUTCOME]: true, settle: 'released' }),
  is: (v: unknown): v is Settlement => typeof v === 'object' && v !== null && OUTCOME in v,
});

/**
 * What the queue decided when an attempt ended, as the settle hooks see it: done; retry (queued again at
 * runAt); dead (no retry: out of attempts, not retryable, or `buried`: a claim found the last attempt's lease
 * expired, its holder gone); released (handed back); lost (the lease was no longer ours: the queue changed
 * nothing, another holder owns the job). `error` is what the job row keeps; `cause` is the value the handler
 * threw (or gave Settle.failed), undefined for a buried job.
 */
export type SettleDecision =
  | { state: 'done'; result: unknown }
  | { state: 'retry'; runAt: number; error: string; cause: unknown }
  | { state: 'dead'; error: string; buried: boolean; cause: unknown }
  | { state: 'released' }
  | { state: 'lost' };

/** The job as the settle hooks see it (a claimed job, an adopted one, or one a claim buried). */
export interface SettlingJob<P = JsonObject> {
  id: number;
  queue: string;
  kind: string;
  payload: P;
  lease: Lease;
}

export interface SettleEvent<P = JsonObject, C = undefined> {
  job: SettlingJob<P>;
  /** onClaim's value for this job; undefined for a job a claim buried (no one claimed it to run). */
  claim: C | undefined;
  decision: SettleDecision;
}

const SKIP = Symbol('SkipClaim');
export interface SkipClaim {
  readonly [SKIP]: true;
  readonly result: unknown;
}
/** From onClaim: nothing to run for this job (it is stale); it is completed with `result` in the claim. */
export const skipClaim = (result: unknown): SkipClaim => ({ [SKIP]: true, result });
export const isSkipClaim = (v: unknown): v is SkipClaim => typeof v === 'object' && v !== null && SKIP in v;

/**
 * A worker's hooks into its own transactions. A hook that throws rolls back the queue change it runs beside
 * (the claim, or the settle), so a job's row and the daemon's rows never disagree.
 */
export interface WorkerHooks<P = JsonObject, C = undefined> {
  /**
   * The claim gate, before each claim (outside the transaction): how many jobs may be claimed now (the free
   * slots are the upper bound; 0 claims nothing), and when to look again if that is sooner than the poll.
   * Disk space, a pause, orphans to recover first, a circuit breaker or a rate limit go here.
   */
  gate?(state: { inFlight: number }): { limit: number; wakeAt?: number };
  /** Inside the claim's transaction, before the claim: false claims nothing (a condition that must hold
   * atomically with the claim, e.g. no orphaned attempt appeared since the gate looked). */
  beforeClaim?(conn: Connection): boolean;
  /**
   * Inside the claim's transaction, for each claimed job: the domain's compare-and-set and attempt rows. The
   * value is handed to the handler (ctx.claim) and the settle hooks; skipClaim(result) completes a stale job
   * at once without running it.
   */
  onClaim?(conn: Connection, job: ClaimedJob<P>): C | SkipClaim;
  /**
   * Inside the settle's transaction, after the queue's change (decision): the domain's rows. For a lost
   * lease it runs in a transaction of its own (the queue changed nothing). Return false to refuse (the
   * domain already settled this attempt elsewhere): everything rolls back and nothing is recorded.
   */
  onSettle?(conn: Connection, e: SettleEvent<P, C>): void | false;
  /**
   * After the settle committed (metrics, logs, in-memory state); never inside a transaction. Also told of a
   * job onClaim finished with skipClaim (decision done, claim undefined).
   */
  onSettled?(e: SettleEvent<P, C>): void;
  /**
   * After a settle's write failed (nothing recorded; never inside a transaction): `retrying` says whether the
   * worker tries again (a passing error, tries left) or leaves the job to its lease's expiry. For the daemon's
   * own counters and logs; the worker counts and logs the failure itself too.
   */
  onSettleError?(e: unknown, job: SettlingJob<P>, info: { try: number; retrying: boolean }): void;
}
