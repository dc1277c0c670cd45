// One job in flight, from its handler to its recorded end: the handler runs with an AbortSignal (job
// timeout, shutdown, lost lease), the lease is heartbeated every leaseMs/3 until the attempt is recorded, and
// the end is settled (settle.ts), a write that failed for a passing reason tried again a few times. The
// worker (worker.ts) claims, keeps the jobs in flight and drains; this runs each of them.
import { pause, type Clock } from '../clock.js';
import { isRetryable, LeaseLostError, ShutdownError } from '../errors.js';
import type { Logger } from '../log.js';
import type { QueueMetrics } from './metrics.js';
import { leaseLost } from './ops.js';
import { outcomeLabel, type Settler } from './settle.js';
import type { SqliteQueueStore } from './store.js';
import {
  Settle,
  type ClaimedJob,
  type HandlerContext,
  type JobHandler,
  type JsonObject,
  type SettleEvent,
  type Settlement,
  type SettlingJob,
  type WorkerHooks,
} from './types.js';
import { JobTimeoutError, SETTLE_TRIES, type InFlight, type WorkerSummary } from './worker-options.js';

export class JobRunner<P extends JsonObject, C> {
  constructor(
    private readonly o: { leaseMs: number; jobTimeoutMs: number; clock: Clock; log: Logger },
    private readonly x: { metrics?: QueueMetrics },
    private readonly store: SqliteQueueStore,
    private readonly settler: Settler<P, C>,
    private readonly hooks: WorkerHooks<P, C>,
    /** Aborted when the worker stops waiting for writes. */
    private readonly giveUp: AbortController,
    private readonly summary: WorkerSummary,
    private readonly countError: (e: unknown, msg: string) => void,
  ) {}

  async execute(entry: InFlight<P, C>, body: JobHandler<P, C>): Promise<void> {
    const { job, ac } = entry;
    const log = this.o.log.child({ jobId: job.id, kind: job.kind, attempt: job.lease.attempt });
    const timeoutMs = (job as Partial<ClaimedJob>).timeoutMs ?? this.o.jobTimeoutMs;
    const timeout = Number.isFinite(timeoutMs)
      ? setTimeout(() => ac.abort(new JobTimeoutError(job.id, timeoutMs)), timeoutMs)
      : undefined;
    const beat = setInterval(() => this.beat(entry, log), Math.max(1, Math.floor(this.o.leaseMs / 3)));
    const t0 = this.o.clock.monotonic();
    let settlement: Settlement;
    try {
      const ctx: HandlerContext<C> = {
        signal: ac.signal,
        log,
        claim: entry.claim as C,
        heartbeat: () => this.heartbeatNow(entry, log),
      };
      const value = await body(job as ClaimedJob<P>, ctx);
      settlement = Settle.is(value) ? value : Settle.done(value);
    } catch (e) {
      settlement = this.failure(entry, e);
    } finally {
      clearTimeout(timeout);
      const seconds = (this.o.clock.monotonic() - t0) / 1000;
      this.x.metrics?.jobDurationSeconds.observe({ queue: job.queue, kind: job.kind }, seconds);
    }
    try {
      // After a lost lease the settle is refused by the queue (fenced) and reported as `lost`.
      await this.record(entry, settlement, log, ac.signal.reason instanceof LeaseLostError);
    } finally {
      clearInterval(beat);
    }
  }

  /** What a thrown error means: shutdown hands the job back; a timeout or a retryable error retries. */
  private failure(entry: InFlight<P, C>, e: unknown): Settlement {
    const reason: unknown = entry.ac.signal.aborted ? entry.ac.signal.reason : undefined;
    if (reason instanceof ShutdownError) return Settle.released();
    const err = reason instanceof JobTimeoutError ? reason : e;
    return Settle.failed(err, { retryable: isRetryable(err) });
  }

  /** Settle a job this worker ran; a write it could not make in the end is counted, and the lease expires. */
  private async record(
    entry: InFlight<P, C>,
    settlement: Settlement,
    log: Logger,
    lost: boolean,
  ): Promise<void> {
    let ev: SettleEvent<P, C> | null;
    try {
      ev = await this.settleRetrying(() => entry.job, entry.claim, settlement, log, { lost, entry });
    } catch (e) {
      return this.countError(e, 'could not record the job outcome; the lease will expire and it will rerun');
    }
    if (entry.abandoned) return;
    if (ev) this.recorded(ev, log, settlement);
    else
      log.warn('outcome not recorded: the settle hook refused it (settled elsewhere, or left to its lease)');
  }

  /**
   * Settle. A write that failed for a passing reason (an I/O error, a hook's RetryableError) is tried again a
   * few times (while a running job's lease is still heartbeated); any other failure, or the last, is thrown.
   * Resolves with what was recorded, or null when onSettle refused (or the drain abandoned the job).
   */
  async settleRetrying(
    job: () => SettlingJob<P>,
    claim: C | undefined,
    settlement: Settlement,
    log: Logger,
    o: { lost?: boolean; entry?: InFlight<P, C> },
  ): Promise<SettleEvent<P, C> | null> {
    for (let i = 1; !o.entry?.abandoned; i++) {
      if (o.entry) o.entry.settling = true;
      try {
        return await this.settler.settle(job(), claim, settlement, { lost: o.lost });
      } catch (e) {
        if (o.entry) o.entry.settling = false;
        const retrying = i < SETTLE_TRIES && !this.giveUp.signal.aborted && isRetryable(e);
        this.hooks.onSettleError?.(e, job(), { try: i, retrying });
        if (!retrying) throw e;
        log.warn({ err: e, try: i }, 'could not record the job outcome; retrying');
        await pause(i * 1000, this.giveUp.signal);
      }
    }
    return null;
  }

  /** Count and log what a committed settle decided, then tell the daemon (onSettled). */
  recorded(ev: SettleEvent<P, C>, log: Logger, s: Settlement): void {
    const d = ev.decision;
    const label = outcomeLabel(d);
    if (label) this.store.countOutcome(ev.job.queue, label);
    const failure = s.settle === 'failed' ? { err: s.error, retryable: s.retryable } : {};
    if (d.state === 'done') this.summary.done++;
    else if (d.state === 'retry') {
      this.summary.retried++;
      log.warn({ ...failure, state: 'queued', runAt: d.runAt }, 'job failed; will retry');
    } else if (d.state === 'dead') {
      this.summary.dead++;
      log.warn({ ...failure, state: 'dead' }, 'job failed for good (dead)');
    } else if (d.state === 'released') this.summary.released++;
    else {
      this.summary.leaseLost++;
      log.warn(
        { err: leaseLost(ev.job.lease, 'settle') },
        'lease lost: another worker owns this job now; result discarded',
      );
    }
    this.hooks.onSettled?.(ev);
  }

  /** The handler's ctx.heartbeat(): a write now; a busy database is logged (the interval tries again). */
  private heartbeatNow(entry: InFlight<P, C>, log: Logger): void {
    try {
      entry.job = { ...entry.job, lease: this.store.heartbeat(entry.job.lease, this.o.leaseMs) };
    } catch (e) {
      if (!(e instanceof LeaseLostError)) return void log.warn({ err: e }, 'heartbeat failed; retrying');
      entry.ac.abort(e);
      throw e;
    }
  }

  /** Extend the lease (a write that waits for the lock without blocking); a lost lease aborts the handler. */
  private beat(entry: InFlight<P, C>, log: Logger): void {
    if (entry.beating || entry.abandoned) return;
    entry.beating = true;
    const { leaseMs } = this.o;
    this.store
      .heartbeatAsync(entry.job.lease, leaseMs, { budgetMs: leaseMs, signal: this.giveUp.signal })
      .then((lease) => {
        entry.job = { ...entry.job, lease };
      })
      .catch((e: unknown) => {
        if (!(e instanceof LeaseLostError)) return void log.warn({ err: e }, 'heartbeat failed; retrying');
        if (entry.settling || entry.ac.signal.aborted) return;
        log.warn('lease lost while running (cancelled or re-claimed); aborting the handler');
        entry.ac.abort(e);
      })
      .finally(() => {
        entry.beating = false;
      });
  }
}
