// The flux job: read the window of calibration_monitoring (pipeline database, read-only), evaluate it, and
// make the CalibratorFlux* alerts match. The gauge refresh calls fluxReport() too, without writing anything.
import { firingLabelSets } from '../../../lib/alerts/index.js';
import { cachedStatement, type Connection } from '../../../lib/db/index.js';
import type { JobFn, SchedulerContext } from '../context.js';
import { reconcileAlerts } from '../findings.js';
import type { SchedulerMetrics } from '../metrics.js';
import {
  evaluateFlux,
  FLUX_ALERTS,
  fluxSummary,
  mjdFromMs,
  msFromMjd,
  type FluxReport,
  type FluxRow,
} from './evaluate.js';

/** Rows since the window start; uses the contract's (mjd DESC) index. */
export function readFluxRows(conn: Connection, sinceMjd: number): FluxRow[] {
  return cachedStatement(
    conn,
    `SELECT calibrator_name AS calibrator, flux_ratio AS ratio, catalog_flux_jy AS catalogJy, mjd,
       phase_rms_deg AS phaseRmsDeg
     FROM calibration_monitoring WHERE mjd >= ?`,
  ).all(sinceMjd) as FluxRow[];
}

export function newestFluxMs(conn: Connection): number | null {
  const r = cachedStatement(conn, 'SELECT max(mjd) AS mjd FROM calibration_monitoring').get() as {
    mjd: number | null;
  };
  return r.mjd === null ? null : msFromMjd(r.mjd);
}

/** Read and evaluate (no writes). The hysteresis needs to know which drift alerts are firing now. */
export async function fluxReport(ctx: SchedulerContext, signal?: AbortSignal): Promise<FluxReport> {
  const cfg = ctx.config.scheduler.flux;
  const now = ctx.clock.now();
  const { rows, newest } = await ctx.pipeline.readAsync(
    (c) => ({ rows: readFluxRows(c, mjdFromMs(now) - cfg.windowDays), newest: newestFluxMs(c) }),
    { signal },
  );
  const firing = ctx.state.read(
    (c) => new Set(firingLabelSets(c, 'CalibratorFluxDrift').map((l) => l.calibrator)),
  );
  return evaluateFlux(rows, now, cfg, firing, newest);
}

export function setFluxGauges(m: SchedulerMetrics['flux'], r: FluxReport): void {
  for (const g of [m.ratio, m.ratioLatest, m.driftPercent, m.phaseRms, m.count, m.stable, m.lastMeasurement])
    g.reset();
  for (const s of r.calibrators) {
    const l = { calibrator: s.calibrator };
    m.ratio.set(l, s.mean);
    m.ratioLatest.set(l, s.latest);
    m.driftPercent.set(l, s.driftPct);
    m.phaseRms.set(l, s.phaseRmsDeg ?? Number.NaN);
    m.count.set(l, s.n);
    m.stable.set(l, s.stable ? 1 : 0);
    m.lastMeasurement.set(l, msFromMjd(s.lastMjd) / 1000);
  }
  m.excludedRows.set(r.excluded);
  m.newestMeasurement.set(r.newestMs === null ? Number.NaN : r.newestMs / 1000);
}

export const fluxJob: JobFn = async (ctx, signal) => {
  const report = await fluxReport(ctx, signal);
  return {
    result: 'ok',
    summary: fluxSummary(report),
    apply: (conn, now) => {
      reconcileAlerts(
        conn,
        { source: 'flux', host: ctx.host, alertnames: FLUX_ALERTS },
        report.findings,
        now,
      );
    },
    afterCommit: () => setFluxGauges(ctx.metrics.flux, report),
  };
};
