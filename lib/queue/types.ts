// The job queue's public shapes. Times are ms since the epoch; payloads and results are JSON.
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

export interface Job {
  id: number;
  queue: string;
  kind: string;
  payload: JsonObject;
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

export interface ClaimedJob extends Job {
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

export interface HandlerContext {
  /** Aborts on job timeout (reason JobTimeoutError), shutdown (ShutdownError) or a lost lease. */
  signal: AbortSignal;
  log: Logger;
  /** Extend the lease now (the worker also does this every leaseMs/3). Throws LeaseLostError. */
  heartbeat(): void;
}

export type JobHandler = (job: ClaimedJob, ctx: HandlerContext) => Promise<unknown>;
