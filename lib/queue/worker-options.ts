// The queue worker's options, its summary and the shapes its parts share (worker.ts, job-run.ts).
import type { BackoffPolicy } from '../backoff.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/index.js';
import { RetryableError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JobType } from './job-type.js';
import type { QueueMetrics } from './metrics.js';
import type { SqliteQueueStore } from './store.js';
import type { JobHandler, JsonObject, SettlingJob, WorkerHooks } from './types.js';

export class JobTimeoutError extends RetryableError {
  constructor(jobId: number, timeoutMs: number) {
    super(`job ${jobId} timed out after ${timeoutMs} ms`, {
      code: 'JOB_TIMEOUT',
      details: { jobId, timeoutMs },
    });
  }
}

export interface WorkerOptions<P extends JsonObject = JsonObject, C = undefined> {
  db: Db;
  /** The job type this worker runs: its payload is checked at claim, the handler gets it parsed. */
  type?: JobType<P>;
  /** The queue to claim from: the type's queue by default (a family's member queue must be named). */
  queue?: string;
  handler: JobHandler<P, C>;
  hooks?: WorkerHooks<P, C>;
  /** Shared store (and its metrics); one is made from db, clock, metrics and retryPolicy otherwise. */
  store?: SqliteQueueStore;
  /** Aborting it stops run()'s claims and starts the drain; run() resolves when the drain is over. */
  signal: AbortSignal;
  /** The daemon's hard stop (deps.hardStop): the drain ends at once, in-flight jobs are aborted. */
  hardStop?: AbortSignal;
  /** Lease owner id (lib/leases' format); leaseOwner(`worker:<queue>`) by default. */
  owner?: string;
  concurrency?: number;
  leaseMs?: number;
  /** Idle poll: starts here and doubles to maxPollMs while the queue stays empty. */
  pollMs?: number;
  maxPollMs?: number;
  /** How often run() checks PRAGMA data_version for commits by other processes. */
  wakeCheckMs?: number;
  /** Handler timeout unless the job has its own; Infinity for none (the handler enforces its own). */
  jobTimeoutMs?: number;
  drainMs?: number;
  /**
   * After aborting unfinished jobs, how long to wait for them (and their settles) before giving up. Infinity:
   * as long as they take (the handlers bound their own stop); their writes then wait for the lock only until
   * the hard stop.
   */
  abortGraceMs?: number;
  gaugeEveryMs?: number;
  /** Retry delays for failed jobs; overrides the store's policy when both are given. */
  retryPolicy?: BackoffPolicy;
  log?: Logger;
  clock?: Clock;
  metrics?: QueueMetrics;
  /** Told whenever the number of jobs in flight changes (a gauge; a driving loop's wake-up). */
  onInFlight?: (n: number) => void;
}

export interface WorkerSummary {
  claimed: number;
  done: number;
  retried: number;
  dead: number;
  released: number;
  leaseLost: number;
  errors: number;
}

export interface InFlight<P, C> {
  job: SettlingJob<P>;
  claim: C | undefined;
  ac: AbortController;
  done: Promise<void>;
  /** The attempt is being recorded: a heartbeat that finds the lease gone now is the settle's business. */
  settling: boolean;
  beating: boolean;
  /** Handed back by the drain after the abort grace ran out; its late result is not recorded. */
  abandoned: boolean;
}

export const ERROR_BACKOFF: BackoffPolicy = {
  strategy: 'exponential',
  baseMs: 1000,
  maxMs: 5000,
  jitter: 0.2,
};
/** Tries to record an attempt's end before leaving it to its lease's expiry (1 s, 2 s, … apart). */
export const SETTLE_TRIES = 5;

export type Resolved<P extends JsonObject, C> = Required<
  Omit<
    WorkerOptions<P, C>,
    'store' | 'metrics' | 'retryPolicy' | 'type' | 'hooks' | 'hardStop' | 'onInFlight'
  >
>;

export function safeDataVersion(db: Db): number {
  try {
    return db.dataVersion();
  } catch {
    // A failed read only decides whether to wake early; any sentinel works.
    // Stryker disable next-line UnaryOperator: equivalent, see above.
    return -1;
  }
}

/** Whether p settles within ms (or before `stop` aborts). */
export async function settledWithin(p: Promise<unknown>, ms: number, stop?: AbortSignal): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    onStop = () => resolve(false);
    if (stop?.aborted) resolve(false);
    else
      stop?.addEventListener(
        'abort',
        onStop,
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: the finally below removes the
        // listener whichever way the wait ends, so `once` only saves that removal after an abort.
        { once: true },
      );
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop?.removeEventListener('abort', onStop);
  }
}
