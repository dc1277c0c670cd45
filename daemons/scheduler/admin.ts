// What operators read, for the JSON API and the CLI alike: the jobs with their schedule and last runs, the
// health targets with the overall status. Reads only.
import { JOB_NAMES, jobSettings, type JobName } from '../../lib/config/sections/scheduler.js';
import type { Config } from '../../lib/config/index.js';
import { nextFireMs, previousFireMs } from '../../lib/cron.js';
import type { Connection } from '../../lib/db/index.js';
import { legacyOf, overallStatus, type Overall } from './health/status.js';
import {
  lastRun,
  lastSuccessAt,
  listHealthChecks,
  recentFinishedRuns,
  type HealthCheckRow,
  type JobRunRow,
} from './store.js';
import { failingStreak, lateFinding } from './watchdog.js';

const iso = (ms: number | null | undefined): string | null =>
  ms == null ? null : new Date(ms).toISOString();

export interface JobReport {
  job: JobName;
  enabled: boolean;
  cron: string;
  timeoutS: number;
  previousSlot: string;
  nextRunAt: string | null;
  lastRun: {
    id: number;
    trigger: string;
    result: string;
    startedAt: string;
    finishedAt: string | null;
    durationMs: number | null;
    error: string | null;
  } | null;
  lastSuccessAt: string | null;
  failingStreak: number;
  late: boolean;
}

export function jobsReport(conn: Connection, config: Config, nowMs: number): JobReport[] {
  return (JOB_NAMES as readonly JobName[]).map((job) => {
    const j = jobSettings(config.scheduler, job);
    const last: JobRunRow | undefined = lastRun(conn, job);
    return {
      job,
      enabled: j.enabled,
      cron: j.cron,
      timeoutS: j.timeoutS,
      previousSlot: iso(previousFireMs(j.cron, nowMs))!,
      nextRunAt: j.enabled ? iso(nextFireMs(j.cron, nowMs)) : null,
      lastRun: last
        ? {
            id: last.id,
            trigger: last.trigger,
            result: last.result,
            startedAt: iso(last.startedAt)!,
            finishedAt: iso(last.finishedAt),
            durationMs: last.durationMs,
            error: last.error,
          }
        : null,
      lastSuccessAt: iso(lastSuccessAt(conn, job)),
      failingStreak: failingStreak(recentFinishedRuns(conn, job, config.scheduler.failingAfterRuns * 3)),
      late: j.enabled && job !== 'watchdog' && lateFinding(conn, job, config, nowMs) !== null,
    };
  });
}

export interface HealthReport {
  status: Overall;
  checkedAt: string | null;
  targets: (Omit<HealthCheckRow, 'checkedAt' | 'statusSince' | 'alert'> & {
    checkedAt: string;
    statusSince: string;
    alerting: string | null;
  })[];
}

export function healthReport(conn: Connection): HealthReport {
  const rows = listHealthChecks(conn);
  return {
    status: overallStatus(rows),
    checkedAt: iso(rows.length ? Math.max(...rows.map((r) => r.checkedAt)) : null),
    targets: rows.map(({ alert, ...r }) => ({
      ...r,
      legacy: r.legacy ?? legacyOf(r.status),
      checkedAt: iso(r.checkedAt)!,
      statusSince: iso(r.statusSince)!,
      alerting: alert?.alertname ?? null,
    })),
  };
}
