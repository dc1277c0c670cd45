// The triggers. node-cron fires each enabled job on its UTC cron (no overlap: a trigger that finds the
// previous run still going becomes a `skipped_overlap` row). Every scheduler process schedules the tasks, but
// only the holder of the `scheduler` lease acts on them: a standby keeps trying the lease (lib/loop) and takes
// over when it expires, or at once when the holder is a dead process on this host. On becoming the holder a
// scheduler marks runs left behind by dead processes `crashed` and catches up: each job whose last success is
// older than its latest cron slot runs once, now (node-cron has no missed-run recovery; the slot comes from
// cron-parser). Between jobs, a second loop refreshes the findings gauges from the databases.
import { createTask, type ScheduledTask, type TaskContext } from 'node-cron';
import { JOB_NAMES, jobSettings, type JobName } from '../../lib/config/sections/scheduler.js';
import { previousFireMs } from '../../lib/cron.js';
import { startLoop, type Loop } from '../../lib/loop.js';
import type { SchedulerContext } from './context.js';
import { fluxReport, setFluxGauges } from './flux/job.js';
import { setHealthGauges } from './health/job.js';
import type { JobRunner, RunOutcome } from './runner.js';
import { lastRun, lastSuccessAt, listHealthChecks } from './store.js';
import { setValidityGauges, validityReport } from './validity/job.js';
import { recoverCrashedRuns, SCHEDULER_LEASE } from './watchdog.js';

/**
 * The slot a job must catch up on at start: its latest cron slot, when its last success (start time) is older
 * than that slot; null when it has succeeded since.
 */
export function catchUpSlot(cron: string, lastSuccessMs: number | null, nowMs: number): number | null {
  const slot = previousFireMs(cron, nowMs);
  return lastSuccessMs !== null && lastSuccessMs >= slot ? null : slot;
}

export interface SchedulerOptions {
  signal: AbortSignal;
  /** Called with "leader" / "standby" when that changes (systemd STATUS=). */
  onRole?: (role: 'leader' | 'standby') => void;
}

export class Scheduler {
  private readonly tasks: ScheduledTask[] = [];
  private leaderLoop?: { loop: Loop; done: Promise<void> };
  private gaugeLoop?: { loop: Loop; done: Promise<void> };
  private token: number | null = null;
  /** Runs started by triggers and catch-ups, so stop() can wait for them. */
  private readonly started = new Set<Promise<unknown>>();

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly runner: JobRunner,
    private readonly o: SchedulerOptions,
  ) {}

  /** This process's fencing token while it leads, else null. */
  get leaderToken(): number | null {
    return this.leaderLoop?.loop.token ?? null;
  }

  start(): void {
    const { ctx, o } = this;
    const cfg = ctx.config.scheduler;
    // Runs a dead process left 'running' are settled before anything else looks at job_runs.
    const crashed = ctx.state.write((c) => recoverCrashedRuns(c, ctx.config, ctx.clock.now()));
    if (crashed.length)
      ctx.log.warn(
        { runs: crashed.map((r) => ({ id: r.id, job: r.job, owner: r.owner })) },
        'marked crashed runs',
      );
    const ttlMs = cfg.leaseTtlS * 1000;
    this.leaderLoop = startLoop({
      name: 'scheduler-lease',
      everyMs: Math.max(100, Math.floor(ttlMs / 3)),
      signal: o.signal,
      clock: ctx.clock,
      log: ctx.log,
      lease: { db: ctx.state, name: SCHEDULER_LEASE, owner: ctx.owner, ttlMs, reclaimDead: true },
      tick: ({ token }) => this.leaderTick(token),
    });
    this.gaugeLoop = startLoop({
      name: 'gauges',
      everyMs: cfg.gaugeRefreshS * 1000,
      signal: o.signal,
      clock: ctx.clock,
      log: ctx.log,
      tick: ({ signal }) => this.refreshGauges(signal),
    });
    for (const job of JOB_NAMES) {
      const j = jobSettings(cfg, job);
      if (!j.enabled) continue;
      const task = createTask(j.cron, (tc: TaskContext) => this.trigger(job, tc.date), {
        timezone: 'UTC',
        noOverlap: true,
        name: `scheduler.${job}`,
        logger: cronLogger(ctx),
      });
      // node-cron's own overlap guard saw the previous trigger's run still going: record the skipped slot.
      task.on('execution:overlap', (tc) => void this.track(this.fire(job, tc.date)));
      void task.start();
      this.tasks.push(task);
    }
    o.signal.addEventListener('abort', () => this.tasks.forEach((t) => void t.destroy()), { once: true });
  }

  /** Settles once the loops have stopped and every run started here has ended. */
  async done(): Promise<void> {
    await Promise.all([this.leaderLoop?.done, this.gaugeLoop?.done]);
    await Promise.allSettled([...this.started]);
    await this.runner.idle();
  }

  private track<T>(p: Promise<T>): Promise<T | void> {
    const q = p.catch((e: unknown) => this.ctx.log.error({ err: e }, 'job run failed unexpectedly'));
    this.started.add(q);
    void q.finally(() => this.started.delete(q));
    return q;
  }

  private leaderTick(token: number | null): void {
    if (token === this.token) return;
    this.token = token;
    this.ctx.metrics.leader.set(token === null ? 0 : 1);
    this.o.onRole?.(token === null ? 'standby' : 'leader');
    if (token === null) return;
    this.ctx.log.info({ fencingToken: token }, 'leading: the cron jobs run here');
    const crashed = this.ctx.state.write((c) => recoverCrashedRuns(c, this.ctx.config, this.ctx.clock.now()));
    if (crashed.length) this.ctx.log.warn({ runs: crashed.map((r) => r.id) }, 'marked crashed runs');
    if (this.ctx.config.scheduler.catchUpOnStart) this.catchUp(token);
  }

  /** Each enabled job that has not succeeded since its latest slot runs once, now. */
  private catchUp(token: number): void {
    const { ctx } = this;
    const now = ctx.clock.now();
    for (const job of JOB_NAMES) {
      const j = jobSettings(ctx.config.scheduler, job);
      if (!j.enabled) continue;
      const last = ctx.state.read((c) => lastSuccessAt(c, job));
      const slot = catchUpSlot(j.cron, last, now);
      if (slot === null) continue;
      ctx.log.info(
        { job, slot: new Date(slot).toISOString(), lastSuccess: last && new Date(last).toISOString() },
        'catching up',
      );
      void this.track(this.runner.run({ job, trigger: 'catchup', scheduledFor: slot, leaderToken: token }));
    }
  }

  /** A cron trigger: acted on only while leading. */
  private trigger(job: JobName, date: Date): Promise<unknown> {
    return this.track(this.fire(job, date));
  }

  private async fire(job: JobName, date: Date): Promise<RunOutcome | void> {
    const token = this.leaderToken;
    if (token === null || this.o.signal.aborted) return;
    const slot = Math.floor(date.getTime() / 1000) * 1000;
    // The catch-up of this very slot is already running: that run is this trigger's run.
    if (this.runner.running(job)?.scheduledFor === slot) return;
    return this.runner.run({ job, trigger: 'cron', scheduledFor: slot, leaderToken: token });
  }

  /** The findings gauges from the databases (no writes), and the job timestamps from job_runs. */
  async refreshGauges(signal?: AbortSignal): Promise<void> {
    const { ctx } = this;
    const m = ctx.metrics;
    ctx.state.read((c) => {
      setHealthGauges(m.health, listHealthChecks(c));
      for (const job of JOB_NAMES) {
        const last = lastRun(c, job);
        const ok = lastSuccessAt(c, job);
        if (last) m.lastRun.set({ task: job }, last.startedAt / 1000);
        if (ok !== null) m.lastSuccess.set({ task: job }, ok / 1000);
      }
    });
    m.leader.set(this.leaderToken === null ? 0 : 1);
    try {
      setFluxGauges(m.flux, await fluxReport(ctx, signal));
    } catch (e) {
      ctx.log.debug({ err: e }, 'flux gauges not refreshed');
    }
    try {
      setValidityGauges(m.validity, await validityReport(ctx, { signal, checkFiles: false }));
    } catch (e) {
      ctx.log.debug({ err: e }, 'validity gauges not refreshed');
      setValidityGauges(m.validity, null);
    }
  }
}

/** node-cron's messages (a missed slot, an overlap) go to our logger. */
function cronLogger(ctx: SchedulerContext) {
  const log = ctx.log.child({ component: 'cron' });
  return {
    info: (msg: string) => log.debug(msg),
    warn: (msg: string) => log.warn(msg),
    error: (msg: string | Error, err?: Error) =>
      log.error({ err: err ?? msg }, typeof msg === 'string' ? msg : 'cron error'),
    debug: (msg: string | Error) => log.debug(String(msg)),
  };
}
