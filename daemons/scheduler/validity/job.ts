// The validity job: read the active rows of caltables (pipeline database, read-only), check the tables in
// use exist on disk, evaluate, and make the Calibration* alerts match. A registry that cannot be read (file
// or table missing, locked past the busy budget) ends the run with `error` and, after
// unreadableFailuresBeforeAlert such runs in a row (counted from job_runs, so a restart keeps the count),
// fires CalibrationRegistryUnreadable; the first readable run resolves it.
import fs from 'node:fs';
import { cachedStatement, type Connection } from '../../../lib/db/index.js';
import type { JobFn, SchedulerContext } from '../context.js';
import { raiseFinding, reconcileAlerts, type Finding } from '../findings.js';
import type { SchedulerMetrics } from '../metrics.js';
import { recentFinishedRuns } from '../store.js';
import {
  evaluateValidity,
  groupSets,
  setsToCheckOnDisk,
  VALIDITY_ALERTS,
  type CalSet,
  type CaltableRow,
  type TransitRow,
  type ValidityReport,
} from './evaluate.js';

export const REGISTRY_ALERT = 'CalibrationRegistryUnreadable';

export function readActiveCaltables(conn: Connection): CaltableRow[] {
  return cachedStatement(
    conn,
    `SELECT set_name AS setName, path, table_type AS tableType, created_at AS createdAt,
       valid_start_mjd AS startMjd, valid_end_mjd AS endMjd, cal_field AS calField, refant
     FROM caltables WHERE status = 'active'`,
  ).all() as CaltableRow[];
}

/** The pointing monitor's transits with data (its calibrator_transits table, a documented contract). */
export function readTransitsWithData(conn: Connection, fromMs: number, model: string): TransitRow[] {
  return cachedStatement(
    conn,
    `SELECT calibrator_name AS calibrator, transit_unix * 1000 AS transitMs FROM calibrator_transits
     WHERE has_data = 1 AND model = ? AND transit_unix >= ?`,
  ).all(model, fromMs / 1000) as TransitRow[];
}

async function missingOnDisk(
  sets: readonly CalSet[],
  signal?: AbortSignal,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  await Promise.all(
    sets.map(async (s) => {
      const missing: string[] = [];
      for (const t of s.tables) {
        signal?.throwIfAborted();
        try {
          await fs.promises.access(t.path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') missing.push(t.path);
        }
      }
      out[s.name] = missing;
    }),
  );
  return out;
}

/** Read and evaluate (no writes). `checkFiles` false for the gauge refresh, which must stay cheap. */
export async function validityReport(
  ctx: SchedulerContext,
  opts: { signal?: AbortSignal; checkFiles?: boolean } = {},
): Promise<ValidityReport> {
  const cfg = ctx.config.scheduler.validity;
  const now = ctx.clock.now();
  const rows = await ctx.pipeline.readAsync(readActiveCaltables, { signal: opts.signal });
  const sets = groupSets(rows, cfg.requiredTypes);
  const missing =
    opts.checkFiles !== false && cfg.checkFilesExist
      ? await missingOnDisk(setsToCheckOnDisk(sets, now, cfg), opts.signal)
      : {};
  const transits = cfg.transitCheck.enabled
    ? ctx.state.read((c) =>
        readTransitsWithData(
          c,
          now - cfg.transitCheck.lookbackHours * 3_600_000,
          ctx.config.pointingMonitor.transitModel,
        ),
      )
    : [];
  return evaluateValidity(sets, now, cfg, missing, transits);
}

export function setValidityGauges(m: SchedulerMetrics['validity'], r: ValidityReport | null): void {
  m.registryUp.set(r ? 1 : 0);
  if (!r) return;
  m.activeSets.set(r.activeSets);
  m.untilExpiry.set(r.hoursUntilExpiry * 3600);
  m.expiringSoon.set(r.expiringSoon);
  m.expired.set(r.expired);
  m.nearestAge.set(r.nearest ? r.nearest.ageHours * 3600 : Number.NaN);
  m.incomplete.set(r.incomplete.length);
  m.overlapConflicts.set(r.conflicts.length);
  m.lastValid.set(r.lastValidMs === null ? Number.NaN : r.lastValidMs / 1000);
}

function validitySummary(r: ValidityReport): unknown {
  return {
    sets: r.sets,
    covering: r.covering,
    nearest: r.nearest && { ...r.nearest, ageHours: Number(r.nearest.ageHours.toFixed(2)) },
    newestComplete: r.newestComplete,
    hoursUntilExpiry: Number.isFinite(r.hoursUntilExpiry) ? Number(r.hoursUntilExpiry.toFixed(2)) : 'open',
    expiringSoon: r.expiringSoon,
    expired: r.expired,
    incomplete: r.incomplete,
    conflicts: r.conflicts.map((c) => [c.a, c.b]),
    missingTables: r.missingTables,
    missedTransits: r.missedTransits,
    findings: r.findings.map((f) => ({ alertname: f.alertname, severity: f.severity, labels: f.labels })),
  };
}

/** True when this unreadable run completes a streak of `needed` unreadable runs (counting earlier runs). */
function unreadableStreakReached(conn: Connection, needed: number): boolean {
  if (needed <= 1) return true;
  const earlier = recentFinishedRuns(conn, 'validity', needed - 1);
  return (
    earlier.length === needed - 1 &&
    earlier.every(
      (r) => r.result === 'error' && (r.summary as { registry?: string } | null)?.registry === 'unreadable',
    )
  );
}

export const validityJob: JobFn = async (ctx, signal) => {
  const cfg = ctx.config.scheduler.validity;
  let report: ValidityReport;
  try {
    report = await validityReport(ctx, { signal });
  } catch (e) {
    if (signal.aborted) throw e;
    const message = (e as Error).message;
    const finding: Finding = {
      alertname: REGISTRY_ALERT,
      severity: 'critical',
      labels: {},
      summary: 'the calibration registry (caltables in the pipeline database) cannot be read',
      description: message.slice(0, 500),
    };
    return {
      result: 'error',
      error: `calibration registry unreadable: ${message}`,
      summary: { registry: 'unreadable', error: message.slice(0, 500) },
      apply: (conn, now) => {
        if (unreadableStreakReached(conn, cfg.unreadableFailuresBeforeAlert))
          raiseFinding(conn, finding, 'validity', ctx.host, now);
      },
      afterCommit: () => setValidityGauges(ctx.metrics.validity, null),
    };
  }
  return {
    result: 'ok',
    summary: { registry: 'ok', ...(validitySummary(report) as object) },
    // The registry alert is among the names reconciled and never among the findings: a readable run resolves it.
    apply: (conn, now) => {
      reconcileAlerts(
        conn,
        { source: 'validity', host: ctx.host, alertnames: [...VALIDITY_ALERTS, REGISTRY_ALERT] },
        report.findings,
        now,
      );
    },
    afterCommit: () => setValidityGauges(ctx.metrics.validity, report),
  };
};
