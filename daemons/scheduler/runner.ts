// One job run, the same way whoever asks (a cron trigger, a catch-up, POST /api/jobs/:job/run, `contimg
// scheduler run`): take the job's lease (so no two processes run one job at once; a run already in progress
// makes the new trigger a `skipped_overlap` row), insert the `running` row, run the check under a deadline
// (aborting its signal kills its child probes; the row says `timeout`), then commit the row's result together
// with the findings' alerts and state, checking the lease's fencing token inside that transaction.
import { JOB_NAMES, jobSettings, type JobName } from '../../lib/config/sections/scheduler.js';
import { ContimgError, InvalidStateError, LeaseLostError, ShutdownError } from '../../lib/errors.js';
import { appendEvent } from '../../lib/events/index.js';
import { acquireOrReclaimLeaseAsync, assertLeaseHeld, releaseLeaseAsync } from '../../lib/leases/index.js';
import { describeError } from '../../lib/queue/index.js';
import type { JobFn, JobOutcome, SchedulerContext } from './context.js';
import { fluxJob } from './flux/job.js';
import { healthJob } from './health/job.js';
import { mosaicQuicklookJob, mosaicScienceJob } from './mosaic/plan-job.js';
import { mosaicWatchdogJob } from './mosaic/plan-stale.js';
import { retentionJob } from './retention-job.js';
import { finishRun, insertFinishedRun, insertRun, type FinalResult, type Trigger } from './store.js';
import { validityJob } from './validity/job.js';
import { reconcileFailing, SCHEDULER_LEASE, watchdogJob } from './watchdog.js';

export const JOBS: Readonly<Record<JobName, JobFn>> = Object.freeze({
  health: healthJob,
  validity: validityJob,
  flux: fluxJob,
  retention: retentionJob,
  watchdog: watchdogJob,
  mosaicQuicklook: mosaicQuicklookJob,
  mosaicScience: mosaicScienceJob,
  mosaicWatchdog: mosaicWatchdogJob,
});

export const isJobName = (s: string): s is JobName => (JOB_NAMES as readonly string[]).includes(s);

export const jobLeaseName = (job: JobName): string => `scheduler.job.${job}`;

export interface RunRequest {
  job: JobName;
  trigger: Trigger;
  /** The cron slot (Unix ms); null for a manual run. */
  scheduledFor: number | null;
  /** The scheduler lease's fencing token when the scheduler's leader fires it (checked in the writes). */
  leaderToken?: number;
}

export interface RunOutcome {
  runId: number | null;
  /** `not_run`: this slot already has a row, or the leader lease was lost before the run began. */
  result: FinalResult | 'not_run';
  summary: unknown;
  error?: string;
  durationMs: number;
}

class JobTimeoutError extends ContimgError {
  constructor(job: string, timeoutS: number) {
    super(`the ${job} job exceeded its ${timeoutS} s timeout`, { code: 'JOB_TIMEOUT' });
  }
}

/** How long a job gets, after its deadline, to notice the abort before its lease is handed back anyway. */
const SETTLE_GRACE_MS = 5_000;
/** The job lease outlives the timeout by this much, so it never lapses under a live run. */
const LEASE_MARGIN_MS = 60_000;

export class JobRunner {
  private readonly inFlight = new Map<JobName, { scheduledFor: number | null; settled: Promise<unknown> }>();

  constructor(
    readonly ctx: SchedulerContext,
    private readonly opts: { hardStop?: AbortSignal } = {},
  ) {}

  /** The slot of the run of `job` in progress in this process, if any. */
  running(job: JobName): { scheduledFor: number | null } | undefined {
    return this.inFlight.get(job);
  }

  /** Settles when every run in progress here has ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()].map((r) => r.settled));
  }

  async run(req: RunRequest): Promise<RunOutcome> {
    const { ctx } = this;
    const cfg = jobSettings(ctx.config.scheduler, req.job);
    const timeoutMs = cfg.timeoutS * 1000;
    const startedAt = ctx.clock.now();
    const lease = jobLeaseName(req.job);
    if (this.inFlight.has(req.job))
      return this.recordSkipped(req, startedAt, 'a run of this job is still in progress here');
    // Claimed here before the first await, so two triggers in this process cannot both pass the check.
    let settle!: () => void;
    const mine = { scheduledFor: req.scheduledFor, settled: new Promise<void>((r) => (settle = r)) };
    this.inFlight.set(req.job, mine);
    let token: number | null = null;
    try {
      token = await acquireOrReclaimLeaseAsync(
        ctx.state,
        lease,
        ctx.owner,
        timeoutMs + LEASE_MARGIN_MS,
        startedAt,
        {
          log: ctx.log,
        },
      );
      if (token === null) {
        return await this.recordSkipped(
          req,
          startedAt,
          'a run of this job is in progress in another process',
        );
      }
      return await this.runHoldingLease(req, token, startedAt, timeoutMs);
    } finally {
      if (this.inFlight.get(req.job) === mine) this.inFlight.delete(req.job);
      if (token !== null)
        await releaseLeaseAsync(ctx.state, lease, ctx.owner, token).catch((e: unknown) =>
          ctx.log.warn({ err: e, lease }, 'job lease release failed; it will expire'),
        );
      settle();
    }
  }

  private async runHoldingLease(
    req: RunRequest,
    token: number,
    startedAt: number,
    timeoutMs: number,
  ): Promise<RunOutcome> {
    const { ctx } = this;
    const lease = jobLeaseName(req.job);
    let runId: number | null;
    try {
      runId = await ctx.state.writeAsync((c) => {
        if (req.leaderToken !== undefined) assertLeaseHeld(c, SCHEDULER_LEASE, req.leaderToken, startedAt);
        assertLeaseHeld(c, lease, token, startedAt);
        return insertRun(c, { ...req, startedAt, owner: ctx.owner, leaseToken: token });
      });
    } catch (e) {
      if (!(e instanceof LeaseLostError)) throw e;
      ctx.log.warn({ job: req.job, err: e }, 'not running: the scheduler lease was lost');
      return { runId: null, result: 'not_run', summary: null, error: e.message, durationMs: 0 };
    }
    if (runId === null)
      return { runId, result: 'not_run', summary: null, error: 'slot already run', durationMs: 0 };
    ctx.metrics.running.set({ task: req.job }, 1);
    ctx.log.debug({ job: req.job, runId, trigger: req.trigger }, 'job started');
    const t0 = ctx.clock.monotonic();
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new JobTimeoutError(req.job, jobSettings(ctx.config.scheduler, req.job).timeoutS)),
      timeoutMs,
    );
    const signal = this.opts.hardStop
      ? AbortSignal.any([deadline.signal, this.opts.hardStop])
      : deadline.signal;
    const work = JOBS[req.job](ctx, signal);
    let outcome: JobOutcome | undefined;
    let failure: unknown;
    try {
      outcome = await Promise.race([work, aborted(signal)]);
    } catch (e) {
      failure = e;
    } finally {
      clearTimeout(timer);
    }
    const result: FinalResult =
      failure === undefined ? outcome!.result : deadline.signal.aborted ? 'timeout' : 'error';
    const error =
      failure !== undefined
        ? failure instanceof ShutdownError
          ? 'aborted: the scheduler is shutting down'
          : describeError(failure)
        : outcome!.error;
    const done = await this.finish(req, runId, token, {
      result,
      error,
      outcome: failure ? undefined : outcome,
    });
    const durationMs = ctx.clock.monotonic() - t0;
    this.count(req.job, done.result, durationMs, startedAt);
    if (failure === undefined && done.committed) outcome!.afterCommit?.();
    else
      await settleWithin(work, SETTLE_GRACE_MS, () =>
        ctx.log.error({ job: req.job }, 'job ignored its abort'),
      );
    ctx.metrics.running.set({ task: req.job }, 0);
    const level = done.result === 'ok' ? 'info' : 'warn';
    const fields = { job: req.job, runId, trigger: req.trigger, result: done.result, error: done.error };
    ctx.log[level]({ ...fields, durationMs: Math.round(durationMs) }, 'job finished');
    return { runId, result: done.result, summary: done.summary, error: done.error, durationMs };
  }

  /** The finishing transaction: fencing check, findings, the run's row, the job's failing alert. */
  private async finish(
    req: RunRequest,
    runId: number,
    token: number,
    f: { result: FinalResult; error?: string; outcome?: JobOutcome },
  ): Promise<{ result: FinalResult; summary: unknown; error?: string; committed: boolean }> {
    const { ctx } = this;
    const lease = jobLeaseName(req.job);
    try {
      const summary = await ctx.state.writeAsync((c) => {
        const now = ctx.clock.now();
        assertLeaseHeld(c, lease, token, now);
        const applied = f.outcome?.apply?.(c, now);
        const summary = applied ? applied.summary : (f.outcome?.summary ?? null);
        if (!finishRun(c, runId, { result: f.result, finishedAt: now, summary, error: f.error ?? null }))
          throw new InvalidStateError(`run ${runId} is no longer running`, { runId });
        reconcileFailing(c, req.job, ctx.config, ctx.host, now);
        // Watchers (the status page) re-read the findings this run committed.
        appendEvent(
          c,
          {
            topic: 'scheduler',
            type: 'scheduler.run_finished',
            payload: { job: req.job, runId, result: f.result },
          },
          now,
        );
        return summary;
      });
      return { result: f.result, summary, error: f.error, committed: true };
    } catch (e) {
      // Record the end without the findings (the row itself is the fence: only a running row changes).
      ctx.log.error({ err: e, job: req.job, runId }, 'could not commit the run; recording it as an error');
      const error = `could not commit the findings: ${describeError(e)}`;
      await ctx.state
        .writeAsync((c) => finishRun(c, runId, { result: 'error', finishedAt: ctx.clock.now(), error }))
        .catch((e2: unknown) => ctx.log.error({ err: e2, runId }, 'could not record the run at all'));
      return { result: 'error', summary: null, error, committed: false };
    }
  }

  private async recordSkipped(req: RunRequest, at: number, why: string): Promise<RunOutcome> {
    const { ctx } = this;
    const runId = await ctx.state.writeAsync((c) => {
      if (req.leaderToken !== undefined) assertLeaseHeld(c, SCHEDULER_LEASE, req.leaderToken, at);
      return insertFinishedRun(c, {
        ...req,
        startedAt: at,
        owner: ctx.owner,
        leaseToken: null,
        result: 'skipped_overlap',
        error: why,
      });
    });
    if (runId === null)
      return { runId, result: 'not_run', summary: null, error: 'slot already run', durationMs: 0 };
    ctx.metrics.runs.inc({ task: req.job, result: 'skipped_overlap' });
    ctx.metrics.lastRun.set({ task: req.job }, at / 1000);
    ctx.log.warn({ job: req.job, runId, trigger: req.trigger, why }, 'trigger skipped: job still running');
    return { runId, result: 'skipped_overlap', summary: null, error: why, durationMs: 0 };
  }

  private count(job: JobName, result: FinalResult, durationMs: number, startedAt: number): void {
    const m = this.ctx.metrics;
    m.runs.inc({ task: job, result });
    m.duration.observe({ task: job }, durationMs / 1000);
    m.lastRun.set({ task: job }, startedAt / 1000);
    if (result === 'ok') m.lastSuccess.set({ task: job }, startedAt / 1000);
  }
}

/** Rejects with the signal's reason when it aborts (never resolves). */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

async function settleWithin(p: Promise<unknown>, ms: number, onLate: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
  const r = await Promise.race([
    p.then(
      () => 'done',
      () => 'done',
    ),
    late,
  ]);
  clearTimeout(timer);
  if (r === 'late') onLate();
}
