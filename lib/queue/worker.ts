// The worker loop over SqliteQueueStore: claim up to `concurrency` jobs, run the handler with an
// AbortSignal (job timeout, shutdown, lost lease), heartbeat at leaseMs/3, then complete / fail / release.
// The loop never throws: errors are logged, counted and backed off. On abort it stops claiming, waits for
// in-flight jobs up to drainMs, then aborts them and hands their leases back with release().
import { backoffMs, type BackoffPolicy } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import type { Db } from '../db/index.js';
import { isRetryable, LeaseLostError, RetryableError, ShutdownError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { QueueMetrics } from './metrics.js';
import { onQueueChange, SqliteQueueStore } from './store.js';
import type { ClaimedJob, JobHandler, Lease } from './types.js';

export class JobTimeoutError extends RetryableError {
  constructor(jobId: number, timeoutMs: number) {
    super(`job ${jobId} timed out after ${timeoutMs} ms`, {
      code: 'JOB_TIMEOUT',
      details: { jobId, timeoutMs },
    });
  }
}

export interface WorkerOptions {
  db: Db;
  queue: string;
  handler: JobHandler;
  /** Shared store (and its metrics); one is made from db, clock, metrics and retryPolicy otherwise. */
  store?: SqliteQueueStore;
  /** Aborting it starts the drain; runWorker resolves when the drain is over. */
  signal: AbortSignal;
  /** Lease owner id, e.g. `<host>:<pid>:<component>`. */
  owner?: string;
  concurrency?: number;
  leaseMs?: number;
  /** Idle poll: starts here and doubles to maxPollMs while the queue stays empty. */
  pollMs?: number;
  maxPollMs?: number;
  /** How often an idle worker checks PRAGMA data_version for commits by other processes. */
  wakeCheckMs?: number;
  jobTimeoutMs?: number;
  drainMs?: number;
  /** After aborting unfinished jobs, how long to wait for handlers to settle before releasing anyway. */
  abortGraceMs?: number;
  gaugeEveryMs?: number;
  /** Retry delays for failed jobs; overrides the store's policy when both are given. */
  retryPolicy?: BackoffPolicy;
  log?: Logger;
  clock?: Clock;
  metrics?: QueueMetrics;
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

interface InFlight {
  job: ClaimedJob;
  lease: Lease;
  ac: AbortController;
  done: Promise<void>;
  /** Set when the worker released the lease itself after the abort grace ran out. */
  abandoned: boolean;
}

const ERROR_BACKOFF: BackoffPolicy = { strategy: 'exponential', baseMs: 1000, maxMs: 5000, jitter: 0.2 };

export class Worker {
  readonly summary: WorkerSummary = {
    claimed: 0,
    done: 0,
    retried: 0,
    dead: 0,
    released: 0,
    leaseLost: 0,
    errors: 0,
  };
  private readonly o: Required<Omit<WorkerOptions, 'store' | 'metrics' | 'retryPolicy'>> & {
    metrics?: QueueMetrics;
    retryPolicy?: BackoffPolicy;
  };
  private readonly store: SqliteQueueStore;
  private readonly inflight = new Map<number, InFlight>();
  private wake: (() => void) | null = null;

  constructor(opts: WorkerOptions) {
    const clock = opts.clock ?? systemClock;
    this.store =
      opts.store ??
      new SqliteQueueStore(opts.db, { clock, metrics: opts.metrics, retryPolicy: opts.retryPolicy });
    this.o = {
      db: opts.db,
      queue: opts.queue,
      handler: opts.handler,
      signal: opts.signal,
      owner: opts.owner ?? `worker:${opts.queue}:${Math.random().toString(36).slice(2, 10)}`,
      concurrency: Math.max(1, opts.concurrency ?? 1),
      leaseMs: opts.leaseMs ?? 60_000,
      pollMs: opts.pollMs ?? 1000,
      maxPollMs: opts.maxPollMs ?? 5000,
      wakeCheckMs: opts.wakeCheckMs ?? 100,
      jobTimeoutMs: opts.jobTimeoutMs ?? 3_600_000,
      drainMs: opts.drainMs ?? 50_000,
      abortGraceMs: opts.abortGraceMs ?? 2000,
      gaugeEveryMs: opts.gaugeEveryMs ?? 5000,
      log: (opts.log ?? silentLogger()).child({ component: 'queue-worker', queue: opts.queue }),
      clock,
      metrics: opts.metrics,
      retryPolicy: opts.retryPolicy,
    };
  }

  async run(): Promise<WorkerSummary> {
    const { log } = this.o;
    const unsubscribe = onQueueChange(this.o.db.conn, () => this.wake?.());
    const gauges = setInterval(() => this.refreshGauges(), this.o.gaugeEveryMs);
    log.info({ owner: this.o.owner, concurrency: this.o.concurrency }, 'worker started');
    try {
      await this.loop();
      await this.drain();
    } finally {
      clearInterval(gauges);
      unsubscribe();
      this.refreshGauges();
    }
    log.info({ ...this.summary }, 'worker stopped');
    return this.summary;
  }

  private async loop(): Promise<void> {
    const { signal } = this.o;
    let idleMs = this.o.pollMs;
    let errorStreak = 0;
    while (!signal.aborted) {
      const free = this.o.concurrency - this.inflight.size;
      if (free <= 0) {
        // Watching commits too would only wake it to find itself still full.
        // Stryker disable next-line BooleanLiteral: equivalent, see above.
        await this.idle(this.o.maxPollMs, false);
        continue;
      }
      let jobs: ClaimedJob[];
      try {
        jobs = this.store.claim({
          queue: this.o.queue,
          owner: this.o.owner,
          leaseMs: this.o.leaseMs,
          limit: free,
        });
        errorStreak = 0;
      } catch (e) {
        this.countError(e, 'claim failed; backing off');
        await this.idle(backoffMs(ERROR_BACKOFF, ++errorStreak), false);
        continue;
      }
      for (const job of jobs) this.start(job);
      if (jobs.length > 0) {
        idleMs = this.o.pollMs;
        continue;
      }
      this.o.log.debug({ idleMs }, 'queue empty; idling');
      await this.idle(idleMs, true);
      idleMs = Math.min(idleMs * 2, this.o.maxPollMs);
    }
  }

  /** Sleep up to ms; wake early on abort, a freed slot, an in-process enqueue, or (if watch) a commit elsewhere. */
  private idle(ms: number, watch: boolean): Promise<void> {
    const { signal, db } = this.o;
    // The loop checks the signal just before (synchronously), so this only guards future callers: an abort
    // that already happened never fires the listener below.
    // Stryker disable next-line ConditionalExpression: unreachable today, see above.
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let version = watch ? safeDataVersion(db) : 0;
      // Only one idle at a time (the loop awaits it), so the wake-up to clear is this one's.
      const done = (): void => {
        clearTimeout(timer);
        clearInterval(check);
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const check = watch
        ? setInterval(() => {
            const v = safeDataVersion(db);
            if (v !== version) done();
            version = v;
          }, this.o.wakeCheckMs)
        : undefined;
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      this.wake = done;
    });
  }

  private start(job: ClaimedJob): void {
    this.summary.claimed++;
    const entry: InFlight = {
      job,
      lease: job.lease,
      ac: new AbortController(),
      done: Promise.resolve(),
      abandoned: false,
    };
    this.inflight.set(job.id, entry);
    entry.done = this.execute(entry).finally(() => {
      this.inflight.delete(job.id);
      this.wake?.();
    });
  }

  private async execute(entry: InFlight): Promise<void> {
    const { job, ac } = entry;
    const log = this.o.log.child({ jobId: job.id, kind: job.kind, attempt: job.attempts });
    const timeoutMs = job.timeoutMs ?? this.o.jobTimeoutMs;
    const timeout = setTimeout(() => ac.abort(new JobTimeoutError(job.id, timeoutMs)), timeoutMs);
    const heartbeat = (): void => {
      try {
        entry.lease = this.store.heartbeat(entry.lease, this.o.leaseMs);
      } catch (e) {
        if (!(e instanceof LeaseLostError)) return void log.warn({ err: e }, 'heartbeat failed; retrying');
        clearInterval(beat);
        ac.abort(e);
        throw e;
      }
    };
    const beat = setInterval(
      () => {
        try {
          heartbeat();
        } catch {
          log.warn('lease lost while running (cancelled or re-claimed); aborting the handler');
        }
      },
      Math.max(1, Math.floor(this.o.leaseMs / 3)),
    );
    const t0 = this.o.clock.monotonic();
    try {
      const result = await this.o.handler(job, { signal: ac.signal, log, heartbeat });
      this.settle(entry, log, () => {
        // Finished after losing the lease: the job is someone else's now; do not try to record it.
        if (ac.signal.reason instanceof LeaseLostError) throw ac.signal.reason;
        this.store.complete(entry.lease, result);
        this.summary.done++;
      });
    } catch (e) {
      this.settle(entry, log, () => this.afterFailure(entry, e, log));
    } finally {
      clearTimeout(timeout);
      clearInterval(beat);
      const seconds = (this.o.clock.monotonic() - t0) / 1000;
      this.o.metrics?.jobDurationSeconds.observe({ queue: job.queue, kind: job.kind }, seconds);
    }
  }

  private afterFailure(entry: InFlight, e: unknown, log: Logger): void {
    const reason: unknown = entry.ac.signal.aborted ? entry.ac.signal.reason : undefined;
    if (reason instanceof LeaseLostError) throw reason;
    if (reason instanceof ShutdownError) {
      this.store.release(entry.lease);
      this.summary.released++;
      return;
    }
    const err = reason instanceof JobTimeoutError ? reason : e;
    const retryable = isRetryable(err);
    const { state, runAt } = this.store.fail(entry.lease, err, { retryable, policy: this.o.retryPolicy });
    if (state === 'queued') this.summary.retried++;
    else this.summary.dead++;
    log.warn(
      { err, retryable, state, runAt },
      state === 'dead' ? 'job failed for good (dead)' : 'job failed; will retry',
    );
  }

  /** Run the bookkeeping for a finished attempt; a lost lease or a DB error is logged and counted, never thrown. */
  private settle(entry: InFlight, log: Logger, fn: () => void): void {
    if (entry.abandoned) return;
    try {
      fn();
    } catch (e) {
      if (e instanceof LeaseLostError) {
        this.summary.leaseLost++;
        log.warn({ err: e }, 'lease lost: another worker owns this job now; result discarded');
      } else this.countError(e, 'could not record the job outcome; the lease will expire and it will rerun');
    }
  }

  private async drain(): Promise<void> {
    if (this.inflight.size === 0) return;
    const { log } = this.o;
    log.info({ inflight: this.inflight.size, drainMs: this.o.drainMs }, 'draining in-flight jobs');
    const all = (): Promise<unknown> => Promise.all([...this.inflight.values()].map((f) => f.done));
    if (await settledWithin(all(), this.o.drainMs)) return;
    log.warn({ inflight: this.inflight.size }, 'drain deadline passed; aborting unfinished jobs');
    for (const f of this.inflight.values()) f.ac.abort(new ShutdownError('worker shutting down'));
    if (await settledWithin(all(), this.o.abortGraceMs)) return;
    // Handlers that ignore their signal: hand the jobs back anyway; their late results will be refused.
    for (const f of this.inflight.values()) {
      f.abandoned = true;
      this.settle({ ...f, abandoned: false }, log, () => {
        this.store.release(f.lease);
        this.summary.released++;
      });
    }
  }

  private refreshGauges(): void {
    // Without metrics of its own the worker has no gauges to keep; refreshing would only read the counts.
    // Stryker disable next-line ConditionalExpression: equivalent, see above.
    if (!this.o.metrics) return;
    try {
      this.store.refreshGauges([this.o.queue]);
    } catch (e) {
      this.countError(e, 'queue gauge refresh failed');
    }
  }

  private countError(e: unknown, msg: string): void {
    this.summary.errors++;
    this.o.metrics?.workerErrors.inc({ queue: this.o.queue });
    this.o.log.error({ err: e }, msg);
  }
}

/** PRAGMA data_version, or a value no successful read returns when the read fails (the next check retries). */
function safeDataVersion(db: Db): number {
  try {
    return db.dataVersion();
  } catch {
    // A failed read only decides whether to wake early; any sentinel works.
    // Stryker disable next-line UnaryOperator: equivalent, see above.
    return -1;
  }
}

async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run a worker until `signal` aborts and the drain is over. */
export function runWorker(opts: WorkerOptions): Promise<WorkerSummary> {
  return new Worker(opts).run();
}
