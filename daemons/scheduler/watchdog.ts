// The scheduler watching itself (the `watchdog` job, every minute), Healthchecks-style: each job has a
// period (its cron) and a grace (its timeout). SchedulerJobLate fires when `staleAfterPeriods` slots have
// passed (each by more than the grace) since the job last succeeded, or since the current scheduler took the
// lease, whichever is later, so a fresh start is not "late". SchedulerJobFailing fires after
// `failingAfterRuns` failed runs in a row (error, timeout, crashed; skipped triggers do not count) and
// resolves with the next success. The watchdog also marks runs left 'running' by a dead process `crashed`.
import os from 'node:os';
import type { Config } from '../../lib/config/index.js';
import { JOB_NAMES, jobSettings, type JobName } from '../../lib/config/sections/scheduler.js';
import { nthPreviousFireMs } from '../../lib/cron.js';
import type { Connection } from '../../lib/db/index.js';
import { getLease, ownerDeadHere } from '../../lib/leases/index.js';
import type { JobFn } from './context.js';
import { reconcileAlerts, type Finding } from './findings.js';
import {
  finishRun,
  lastSuccessAt,
  recentFinishedRuns,
  runningRuns,
  type JobRunRow,
  type RunResult,
} from './store.js';

export const SCHEDULER_LEASE = 'scheduler';
export const SELF_ALERTS = ['SchedulerJobLate', 'SchedulerJobFailing'] as const;

/** Slots of `cron` that passed (each more than graceMs ago) since baselineMs reach `periods`. */
export function isLate(
  cron: string,
  baselineMs: number,
  nowMs: number,
  periods: number,
  graceMs: number,
): boolean {
  return nthPreviousFireMs(cron, nowMs - graceMs, periods) > baselineMs;
}

const FAILED: readonly RunResult[] = ['error', 'timeout', 'crashed'];

/** Failed runs in a row, newest first (stops at the first run that was not a failure). */
export function failingStreak(newestFirst: readonly Pick<JobRunRow, 'result'>[]): number {
  let n = 0;
  for (const r of newestFirst) {
    if (!FAILED.includes(r.result)) break;
    n++;
  }
  return n;
}

/** When the current lease holder took the scheduler lease (null when nobody holds it now). */
export function leaderSince(conn: Connection, nowMs: number): number | null {
  const l = getLease(conn, SCHEDULER_LEASE);
  return l && l.owner !== null && l.expiresAt > nowMs ? l.acquiredAt : null;
}

export function failingFinding(conn: Connection, job: JobName, config: Config): Finding | null {
  const n = config.scheduler.failingAfterRuns;
  const runs = recentFinishedRuns(conn, job, n);
  if (failingStreak(runs) < n) return null;
  return {
    alertname: 'SchedulerJobFailing',
    severity: job === 'health' ? 'critical' : 'warning',
    labels: { job },
    summary: `the ${job} job failed ${n} times in a row (last: ${runs[0].result})`,
    description:
      runs[0].error ?? `last run ${runs[0].result} at ${new Date(runs[0].startedAt).toISOString()}`,
    value: String(n),
  };
}

export function lateFinding(conn: Connection, job: JobName, config: Config, nowMs: number): Finding | null {
  const j = jobSettings(config.scheduler, job);
  const last = lastSuccessAt(conn, job);
  const baseline = Math.max(last ?? -Infinity, leaderSince(conn, nowMs) ?? -Infinity);
  if (!isLate(j.cron, baseline, nowMs, config.scheduler.staleAfterPeriods, j.timeoutS * 1000)) return null;
  return {
    alertname: 'SchedulerJobLate',
    severity: 'warning',
    labels: { job },
    summary:
      last === null
        ? `the ${job} job has not succeeded (${config.scheduler.staleAfterPeriods} slots of "${j.cron}" passed)`
        : `the ${job} job last succeeded at ${new Date(last).toISOString()} (${config.scheduler.staleAfterPeriods} slots of "${j.cron}" passed)`,
  };
}

/** Make SchedulerJobFailing{job} match the job's recent runs (the runner calls this as each run finishes). */
export function reconcileFailing(
  conn: Connection,
  job: JobName,
  config: Config,
  host: string,
  nowMs: number,
): void {
  const f = failingFinding(conn, job, config);
  reconcileAlerts(
    conn,
    { source: 'scheduler', host, alertnames: ['SchedulerJobFailing'], scope: { job } },
    f ? [f] : [],
    nowMs,
  );
}

/**
 * Mark runs whose process is gone `crashed`: an owner on this host that is no longer running, or any owner
 * whose run is past its timeout by more than a minute (a process on another host that died). Returns them.
 */
export function recoverCrashedRuns(conn: Connection, config: Config, nowMs: number): JobRunRow[] {
  const crashed: JobRunRow[] = [];
  for (const r of runningRuns(conn)) {
    const known = (JOB_NAMES as readonly string[]).includes(r.job);
    const timeoutMs = (known ? jobSettings(config.scheduler, r.job).timeoutS : 600) * 1000;
    const local = r.owner.split(':')[0] === os.hostname();
    const gone = local ? ownerDeadHere(r.owner) : nowMs > r.startedAt + timeoutMs + 60_000;
    if (!gone) continue;
    if (
      finishRun(conn, r.id, {
        result: 'crashed',
        finishedAt: nowMs,
        error: `the process running it (${r.owner}) is gone`,
      })
    )
      crashed.push(r);
  }
  return crashed;
}

export const watchdogJob: JobFn = async (ctx) => {
  const { config } = ctx;
  return {
    result: 'ok',
    summary: null,
    // The findings are read inside the transaction, so apply returns the run's summary.
    apply: (conn, now) => {
      const crashed = recoverCrashedRuns(conn, config, now);
      const watched = (JOB_NAMES as readonly JobName[]).filter(
        (j) => j !== 'watchdog' && jobSettings(config.scheduler, j).enabled,
      );
      const findings: Finding[] = [];
      for (const job of watched) {
        const late = lateFinding(conn, job, config, now);
        const failing = failingFinding(conn, job, config);
        if (late) findings.push(late);
        if (failing) findings.push(failing);
      }
      reconcileAlerts(conn, { source: 'scheduler', host: ctx.host, alertnames: SELF_ALERTS }, findings, now);
      return {
        summary: {
          crashed: crashed.map((r) => ({ id: r.id, job: r.job })),
          late: findings.filter((f) => f.alertname === 'SchedulerJobLate').map((f) => f.labels.job),
          failing: findings.filter((f) => f.alertname === 'SchedulerJobFailing').map((f) => f.labels.job),
        },
      };
    },
  };
};
