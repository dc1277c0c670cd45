// The scheduler's part of the status snapshot: its health targets (health_checks, as its API reads them) and
// what its newest validity and flux runs found (the summaries it stores in job_runs, documented in
// docs/scheduler.md). Nothing here re-reads the pipeline database: the page shows the scheduler's findings,
// not a second opinion. Summaries are parsed defensively: a field a future scheduler drops reads as null.
import { overallStatus } from '../../daemons/scheduler/health/status.js';
import { listHealthChecks, recentFinishedRuns } from '../../daemons/scheduler/store.js';
import type { CalibrationView, FluxView, SchedulerPart } from '../../web/status/contract.js';
import type { Config } from '../config/index.js';
import type { Connection } from '../db/index.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const time = (v: unknown): number | null => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : null;
};

/** The newest finished run of a job that left a summary (a timeout or crash leaves none). */
function lastSummary(conn: Connection, job: string): { startedAt: number; summary: Obj } | null {
  for (const run of recentFinishedRuns(conn, job, 5)) {
    const summary = obj(run.summary);
    if (summary) return { startedAt: run.startedAt, summary };
  }
  return null;
}

export function calibrationView(
  run: { startedAt: number; summary: Obj },
  cfg: Config['scheduler']['validity'],
): CalibrationView {
  const s = run.summary;
  const nearest = obj(s.nearest);
  const newest = obj(s.newestComplete);
  return {
    checkedAt: run.startedAt,
    readable: s.registry !== 'unreadable',
    nearestSet: str(nearest?.set),
    nearestMidpointMs: time(nearest?.midpoint),
    newestSet: str(newest?.set),
    newestCreatedAt: time(newest?.createdAt),
    hoursUntilExpiry: num(s.hoursUntilExpiry),
    covering: Array.isArray(s.covering) ? s.covering.filter((c): c is string => typeof c === 'string') : [],
    staleWarnHours: cfg.staleWarnHours,
    staleCritHours: cfg.staleCritHours,
  };
}

export function fluxView(
  run: { startedAt: number; summary: Obj },
  cfg: Config['scheduler']['flux'],
): FluxView {
  const s = run.summary;
  const cals = Array.isArray(s.calibrators) ? s.calibrators.map(obj).filter((c): c is Obj => c !== null) : [];
  return {
    checkedAt: run.startedAt,
    windowDays: num(s.windowDays) ?? cfg.windowDays,
    noData: s.noData === true,
    newestMs: time(s.newest),
    calibrators: cals.map((c) => ({
      calibrator: str(c.calibrator) ?? '?',
      n: num(c.n) ?? 0,
      mean: num(c.mean) ?? Number.NaN,
      latest: num(c.latest) ?? Number.NaN,
      driftPct: num(c.driftPct) ?? 0,
      drift: c.drift === 'warning' || c.drift === 'critical' ? c.drift : 'ok',
    })),
    driftWarnPct: cfg.driftWarnPct,
    driftCritPct: cfg.driftCritPct,
  };
}

export function schedulerPart(conn: Connection, config: Config): SchedulerPart {
  const rows = listHealthChecks(conn);
  const validity = lastSummary(conn, 'validity');
  const flux = lastSummary(conn, 'flux');
  return {
    health: {
      status: overallStatus(rows),
      checkedAt: rows.length ? Math.max(...rows.map((r) => r.checkedAt)) : null,
      targets: rows.map((r) => ({
        targetId: r.targetId,
        kind: r.kind,
        name: r.name,
        status: r.status,
        critical: r.critical,
        detail: r.detail || null,
        statusSince: r.statusSince,
      })),
    },
    calibration: validity && calibrationView(validity, config.scheduler.validity),
    flux: flux && fluxView(flux, config.scheduler.flux),
  };
}
