// The calibrator flux check, pure: per calibrator, the observed/catalog flux ratios of the window, their
// statistics, drift and the alerts they call for. Drift is the original's (max/min − 1) × 100, computed only
// over rows with a positive catalog flux and ratio (the original stored 0.0 for an unknown catalog flux, which
// silently switched it to another formula; those rows are left out and counted instead). A firing drift alert
// resolves only at or below resolveBelowPct (hysteresis), so a drift hovering at the threshold does not flap.
import type { SchedulerConfig } from '../../../lib/config/sections/scheduler.js';
import type { Finding } from '../findings.js';

export const FLUX_ALERTS = [
  'CalibratorFluxDrift',
  'CalibratorFluxScaleOffset',
  'CalibratorFluxNoData',
] as const;

export interface FluxRow {
  calibrator: string;
  ratio: number;
  catalogJy: number;
  mjd: number;
  phaseRmsDeg: number | null;
}

export interface CalibratorStats {
  calibrator: string;
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  latest: number;
  firstMjd: number;
  lastMjd: number;
  driftPct: number;
  phaseRmsDeg: number | null;
  /** The dashboard rule: mean within 0.9–1.1 and max − min below 0.2. */
  stable: boolean;
  drift: 'ok' | 'warning' | 'critical';
  scaleOffset: boolean;
}

export interface FluxReport {
  windowDays: number;
  windowStartMjd: number;
  rows: number;
  excluded: number;
  calibrators: CalibratorStats[];
  /** Newest row of any calibrator (Unix ms), null when the table is empty. */
  newestMs: number | null;
  noData: boolean;
  findings: Finding[];
}

export const mjdFromMs = (ms: number): number => ms / 86_400_000 + 40587;
export const msFromMjd = (mjd: number): number => (mjd - 40587) * 86_400_000;

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** (max/min − 1) × 100; the mean-normalised spread when min is not positive (never, after exclusion). */
export function driftPercent(min: number, max: number, mean: number): number {
  if (min > 0) return (max / min - 1) * 100;
  if (mean > 0) return ((max - min) / mean) * 100;
  return 0;
}

export type FluxConfig = SchedulerConfig['flux'];

function stats(
  calibrator: string,
  rows: FluxRow[],
  cfg: FluxConfig,
  firing: ReadonlySet<string>,
): CalibratorStats {
  rows.sort((a, b) => a.mjd - b.mjd);
  const ratios = rows.map((r) => r.ratio);
  const n = ratios.length;
  const mean = ratios.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(ratios.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  const min = Math.min(...ratios);
  const max = Math.max(...ratios);
  const drift = driftPercent(min, max, mean);
  const phase = [...rows].reverse().find((r) => r.phaseRmsDeg !== null)?.phaseRmsDeg ?? null;
  const enough = n >= cfg.minMeasurements;
  let level: CalibratorStats['drift'] = 'ok';
  if (enough && drift > cfg.driftCritPct) level = 'critical';
  else if (enough && drift > cfg.driftWarnPct) level = 'warning';
  else if (enough && firing.has(calibrator) && drift > cfg.resolveBelowPct) level = 'warning';
  const sc = cfg.scaleCheck;
  const scaleOffset =
    sc.enabled && enough && (Math.abs(mean - 1) > sc.maxAbsOffset || max - min >= sc.maxSpread);
  return {
    calibrator,
    n,
    mean,
    std,
    min,
    max,
    latest: ratios[n - 1],
    firstMjd: rows[0].mjd,
    lastMjd: rows[n - 1].mjd,
    driftPct: drift,
    phaseRmsDeg: phase,
    stable: Math.abs(mean - 1) <= 0.1 && max - min < 0.2,
    drift: level,
    scaleOffset,
  };
}

function driftFinding(s: CalibratorStats, windowDays: number): Finding {
  return {
    alertname: 'CalibratorFluxDrift',
    severity: s.drift === 'critical' ? 'critical' : 'warning',
    labels: { calibrator: s.calibrator },
    summary: `Flux calibration drift for ${s.calibrator}: ${s.driftPct.toFixed(1)}% over ${windowDays.toFixed(1)} days`,
    description:
      `Flux calibration drift detected for ${s.calibrator}: ${s.driftPct.toFixed(1)}% over ` +
      `${windowDays.toFixed(1)} days (mean ratio: ${s.mean.toFixed(3)}, recent: ${s.latest.toFixed(3)}, n=${s.n})`,
    value: s.driftPct.toFixed(1),
  };
}

function offsetFinding(s: CalibratorStats, cfg: FluxConfig): Finding {
  return {
    alertname: 'CalibratorFluxScaleOffset',
    severity: 'warning',
    labels: { calibrator: s.calibrator },
    summary: `Flux scale of ${s.calibrator} is off: mean ratio ${s.mean.toFixed(3)}, spread ${(s.max - s.min).toFixed(3)}`,
    description:
      `Observed/catalog flux of ${s.calibrator} over ${cfg.windowDays} days: mean ${s.mean.toFixed(3)} ` +
      `(allowed 1 ± ${cfg.scaleCheck.maxAbsOffset}), min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)} ` +
      `(spread allowed below ${cfg.scaleCheck.maxSpread}), n=${s.n}`,
    value: s.mean.toFixed(3),
  };
}

/**
 * Evaluate the rows of the window. `firingDrift` names the calibrators whose drift alert is firing now (for
 * the hysteresis); `newestMs` is the newest row of the whole table (any age), for the no-data alert.
 */
export function evaluateFlux(
  rows: readonly FluxRow[],
  nowMs: number,
  cfg: FluxConfig,
  firingDrift: ReadonlySet<string>,
  newestMs: number | null,
): FluxReport {
  const windowStartMjd = mjdFromMs(nowMs) - cfg.windowDays;
  const groups = new Map<string, FluxRow[]>();
  let excluded = 0;
  let inWindow = 0;
  for (const r of rows) {
    if (r.mjd < windowStartMjd) continue;
    inWindow++;
    if (!(r.catalogJy > 0) || !(r.ratio > 0)) {
      excluded++;
      continue;
    }
    let g = groups.get(r.calibrator);
    if (!g) groups.set(r.calibrator, (g = []));
    g.push(r);
  }
  const calibrators = [...groups.entries()]
    .map(([name, g]) => stats(name, g, cfg, firingDrift))
    .sort((a, b) => (a.calibrator < b.calibrator ? -1 : 1));
  const findings: Finding[] = [];
  for (const s of calibrators) {
    if (s.drift !== 'ok') findings.push(driftFinding(s, cfg.windowDays));
    if (s.scaleOffset) findings.push(offsetFinding(s, cfg));
  }
  const noData = cfg.noDataHours > 0 && (newestMs === null || nowMs - newestMs > cfg.noDataHours * 3_600_000);
  if (noData)
    findings.push({
      alertname: 'CalibratorFluxNoData',
      severity: 'warning',
      labels: {},
      summary:
        newestMs === null
          ? 'calibration_monitoring holds no measurement at all'
          : `no calibrator flux measurement for more than ${cfg.noDataHours} h`,
      description:
        newestMs === null
          ? 'Nothing has written calibrator flux measurements into the pipeline database yet.'
          : `The newest calibration_monitoring row is from ${new Date(newestMs).toISOString()}.`,
      value: newestMs === null ? 'none' : String(Math.floor((nowMs - newestMs) / 3_600_000)),
    });
  return {
    windowDays: cfg.windowDays,
    windowStartMjd,
    rows: inWindow,
    excluded,
    calibrators,
    newestMs,
    noData,
    findings,
  };
}

/** The run summary: per-calibrator numbers rounded for storage. */
export function fluxSummary(r: FluxReport): unknown {
  return {
    windowDays: r.windowDays,
    rows: r.rows,
    excluded: r.excluded,
    newest: r.newestMs === null ? null : new Date(r.newestMs).toISOString(),
    noData: r.noData,
    calibrators: r.calibrators.map((s) => ({
      calibrator: s.calibrator,
      n: s.n,
      mean: round(s.mean, 4),
      latest: round(s.latest, 4),
      min: round(s.min, 4),
      max: round(s.max, 4),
      driftPct: round(s.driftPct, 2),
      drift: s.drift,
      scaleOffset: s.scaleOffset,
    })),
    findings: r.findings.map((f) => ({ alertname: f.alertname, severity: f.severity, labels: f.labels })),
  };
}
