// Simulated calibration products, written the way the imaging pipeline writes them, so the scheduler's
// validity and flux checks have something real to look at: for each calibrator transit (the caller passes the
// pointing monitor's schedule), one complete calibration set in `caltables` (delay, bandpass and gain tables,
// each a directory on disk as CASA tables are, valid ±1 h around the transit) and one `calibration_monitoring`
// row (observed/catalog flux ratio near 1 with 2 % noise). A transit whose window would overlap the previous
// calibrated one is skipped: the pipeline calibrates one transit at a time, and overlapping windows of
// different calibrators are a finding of their own. Re-running over the same range writes nothing twice.
// Faults: `flux-drift` (one calibrator's ratio climbs 30 % over the last week), `stale-calibration` (no set
// for the last 36 h), `missing-table` (the newest set's gain table is absent on disk).
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/index.js';

export const CALIBRATION_FAULTS = ['flux-drift', 'stale-calibration', 'missing-table'] as const;
export type CalibrationFault = (typeof CALIBRATION_FAULTS)[number];

export const isCalibrationFault = (s: string): s is CalibrationFault =>
  (CALIBRATION_FAULTS as readonly string[]).includes(s);

export interface SimTransit {
  calibrator: string;
  transitMs: number;
  /** Catalog flux density (Jy); transits of calibrators without one are not measured. */
  fluxJy: number | null;
}

export interface CalibrationSimOptions {
  pipelineDb: Db;
  /** Folder for the table directories (`<tableDir>/<set>/<set>_bpcal`, …). */
  tableDir: string;
  transits: readonly SimTransit[];
  /** Transits after this are not calibrated yet (the pipeline solves ~20 min after the transit). */
  nowMs: number;
  faults?: readonly CalibrationFault[];
}

export interface CalibrationSimResult {
  sets: number;
  measurements: number;
}

const HOUR = 3_600_000;
const SOLVE_LATENCY_MS = 20 * 60_000;
const mjd = (ms: number): number => ms / 86_400_000 + 40587;
const DRIFT_NOTE = 'contimg simulate: flux-drift';
/** The tables the solver writes for a complete set: delay, bandpass, gain (as the pipeline names them). */
const TABLES: readonly [string, string, number][] = [
  ['K', 'kcal', 10],
  ['BP', 'bpcal', 30],
  ['GP', 'gpcal', 50],
];

/** A repeatable N(0, 1) draw for one transit (so a re-run writes the same numbers). */
function gaussFor(seed: number): number {
  let a = Math.floor(seed) >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Math.sqrt(-2 * Math.log(Math.max(next(), 1e-12))) * Math.cos(2 * Math.PI * next());
}

/**
 * Which transits get a set: past the solve latency, and not overlapping the window of the previous one
 * (written by this call or an earlier one: `lastMs` is the newest calibrated transit already stored).
 */
function calibratedTransits(o: CalibrationSimOptions, lastCalibratedMs: number): SimTransit[] {
  const stale = o.faults?.includes('stale-calibration');
  const out: SimTransit[] = [];
  let lastMs = lastCalibratedMs;
  for (const t of [...o.transits].sort((a, b) => a.transitMs - b.transitMs)) {
    if (t.transitMs + SOLVE_LATENCY_MS > o.nowMs) continue;
    if (stale && t.transitMs > o.nowMs - 36 * HOUR) continue;
    if (t.transitMs - lastMs < 2 * HOUR) continue;
    out.push(t);
    lastMs = t.transitMs;
  }
  return out;
}

export function writeSimulatedCalibration(o: CalibrationSimOptions): CalibrationSimResult {
  let sets = 0;
  let measurements = 0;
  o.pipelineDb.write((c) => {
    const last = c.prepare("SELECT max(valid_end_mjd) AS e FROM caltables WHERE status = 'active'").get() as {
      e: number | null;
    };
    const chosen = calibratedTransits(o, last.e === null ? -Infinity : (last.e - 40587) * 86_400_000 - HOUR);
    const newest = chosen.at(-1);
    // One calibrator drifts: the one an earlier call chose (marked in its rows' notes), else the first measured.
    const marked = c
      .prepare('SELECT calibrator_name AS n FROM calibration_monitoring WHERE notes = ? LIMIT 1')
      .get(DRIFT_NOTE) as { n: string } | undefined;
    const drifting = o.faults?.includes('flux-drift')
      ? (marked?.n ?? chosen.find((t) => t.fluxJy !== null)?.calibrator)
      : undefined;
    const insertTable = c.prepare(
      `INSERT OR IGNORE INTO caltables (set_name, path, table_type, order_index, cal_field, refant, created_at,
         valid_start_mjd, valid_end_mjd, status, source_ms_path, solver_version)
       VALUES (?, ?, ?, ?, ?, '103', ?, ?, ?, 'active', ?, 'contimg simulate')`,
    );
    const hasRow = c.prepare('SELECT 1 FROM calibration_monitoring WHERE ms_path = ?');
    const insertFlux = c.prepare(
      `INSERT INTO calibration_monitoring (calibrator_name, ms_path, observed_flux_jy, catalog_flux_jy, flux_ratio,
         frequency_ghz, mjd, timestamp_iso, phase_rms_deg, amp_rms, flagged_fraction, created_at, notes)
       VALUES (?, ?, ?, ?, ?, 1.405, ?, ?, ?, 0.02, 0.1, ?, ?)`,
    );
    for (const t of chosen) {
      const mid = mjd(t.transitMs);
      const set = `${t.calibrator}_${mid.toFixed(6)}`;
      const msPath = path.join(o.tableDir, '..', 'ms', `${set}.ms`);
      const created = (t.transitMs + SOLVE_LATENCY_MS) / 1000;
      let wrote = false;
      for (const [type, suffix, order] of TABLES) {
        const p = path.join(o.tableDir, set, `${set}_${suffix}`);
        const skip = t === newest && suffix === 'gpcal' && o.faults?.includes('missing-table');
        if (!skip) fs.mkdirSync(p, { recursive: true });
        const info = insertTable.run(
          set,
          p,
          type,
          order,
          t.calibrator,
          created,
          mjd(t.transitMs - HOUR),
          mjd(t.transitMs + HOUR),
          msPath,
        );
        wrote ||= info.changes > 0;
      }
      if (wrote) sets++;
      if (t.fluxJy === null || hasRow.get(msPath)) continue;
      const weekFraction = Math.max(0, 1 - (o.nowMs - t.transitMs) / (7 * 24 * HOUR));
      const drifts = t.calibrator === drifting && weekFraction > 0;
      const ratio = drifts
        ? 1 + 0.3 * weekFraction + 0.005 * gaussFor(t.transitMs)
        : 1 + 0.02 * gaussFor(t.transitMs);
      insertFlux.run(
        t.calibrator,
        msPath,
        t.fluxJy * ratio,
        t.fluxJy,
        ratio,
        mid,
        new Date(t.transitMs).toISOString(),
        4 + Math.abs(gaussFor(t.transitMs + 1)),
        created,
        drifts ? DRIFT_NOTE : 'contimg simulate',
      );
      measurements++;
    }
  });
  return { sets, measurements };
}
