// The transit schedule, pure: which calibrators to schedule for a pointing, their transits in a range, the
// dec separation and Airy response at the pointing, and each transit's active window. Active means all
// of: |t − T| ≤ half-window (symmetric: the original's was −300/+64 s, defect 2), |dec_cal − dec_pointing| ≤
// tolerance and response ≥ minPb (the original checked neither: defect 3).
import {
  airyFwhmDeg,
  airyResponse,
  beamCrossingHalfWidthS,
  transitsBetween,
  type AstroOptions,
  type Calibrator,
  type TransitModel,
} from '../../lib/astro/index.js';

export interface ScheduleConfig {
  model: TransitModel;
  decToleranceDeg: number;
  minFluxJy: number;
  minPbResponse: number;
  activeWindow: 'fixed' | 'beam';
  activeHalfWindowS: number;
  watch: readonly string[];
  beam: { dishDiameterM: number; freqHz: number };
}

/** The schedule settings from the `pointingMonitor` config section (one mapping for daemon and CLI). */
export function scheduleConfigFrom(cfg: {
  transitModel: TransitModel;
  calibratorDecToleranceDeg: number;
  minCalibratorFluxJy: number;
  minPbResponse: number;
  activeWindow: 'fixed' | 'beam';
  activeHalfWindowS: number;
  watchCalibrators: readonly string[];
  beam: { dishDiameterM: number; freqHz: number };
}): ScheduleConfig {
  return {
    model: cfg.transitModel,
    decToleranceDeg: cfg.calibratorDecToleranceDeg,
    minFluxJy: cfg.minCalibratorFluxJy,
    minPbResponse: cfg.minPbResponse,
    activeWindow: cfg.activeWindow,
    activeHalfWindowS: cfg.activeHalfWindowS,
    watch: cfg.watchCalibrators,
    beam: cfg.beam,
  };
}

export interface ScheduledTransit {
  name: string;
  model: TransitModel;
  raDeg: number;
  decDeg: number;
  fluxJy: number | null;
  transitMs: number;
  lstHours: number;
  elevationDeg: number;
  northOfZenith: boolean;
  dut1S: number;
  /** Separation from the pointing declination and the beam response there; null without a pointing. */
  decSepDeg: number | null;
  pbResponse: number | null;
  windowStartMs: number;
  windowEndMs: number;
  /** Within tolerance of the pointing and above the beam response: its window can be active. */
  eligible: boolean;
}

export interface Candidate {
  cal: Calibrator;
  decSepDeg: number;
  pbResponse: number;
}

const beamOpts = (c: ScheduleConfig) => ({ dishM: c.beam.dishDiameterM, freqHz: c.beam.freqHz });

/** Calibrators usable at a pointing declination, best (highest response × flux) first. */
export function candidatesFor(cals: readonly Calibrator[], decDeg: number, cfg: ScheduleConfig): Candidate[] {
  return cals
    .map((cal) => {
      const decSepDeg = Math.abs(cal.decDeg - decDeg);
      return { cal, decSepDeg, pbResponse: airyResponse(decSepDeg, beamOpts(cfg)) };
    })
    .filter(
      (c) =>
        c.decSepDeg <= cfg.decToleranceDeg &&
        c.pbResponse >= cfg.minPbResponse &&
        (c.cal.fluxJy === null || c.cal.fluxJy >= cfg.minFluxJy),
    )
    .sort((a, b) => b.pbResponse * (b.cal.fluxJy ?? 1) - a.pbResponse * (a.cal.fluxJy ?? 1));
}

/** Half-width (s) of a calibrator's active window at a pointing; 0 when it can never be active. */
export function halfWindowS(
  cal: Pick<Calibrator, 'decDeg'>,
  pointingDecDeg: number | null,
  cfg: ScheduleConfig,
): number {
  if (cfg.activeWindow === 'fixed' || pointingDecDeg === null) return cfg.activeHalfWindowS;
  return beamCrossingHalfWidthS(pointingDecDeg, cal.decDeg, airyFwhmDeg(beamOpts(cfg)));
}

/**
 * Where a calibrator stands against a pointing: separation, beam response, its active half-window, and whether
 * it is eligible (within tolerance and above the beam response). The one rule for the daemon and the CLI.
 */
export function windowAt(
  cal: Pick<Calibrator, 'decDeg'>,
  pointingDecDeg: number | null,
  cfg: ScheduleConfig,
): { decSepDeg: number | null; pbResponse: number | null; halfWindowMs: number; eligible: boolean } {
  const decSepDeg = pointingDecDeg === null ? null : Math.abs(cal.decDeg - pointingDecDeg);
  const pbResponse = decSepDeg === null ? null : airyResponse(decSepDeg, beamOpts(cfg));
  const halfWindowMs = halfWindowS(cal, pointingDecDeg, cfg) * 1000;
  const eligible =
    decSepDeg !== null &&
    pbResponse !== null &&
    decSepDeg <= cfg.decToleranceDeg &&
    pbResponse >= cfg.minPbResponse &&
    halfWindowMs > 0;
  return { decSepDeg, pbResponse, halfWindowMs, eligible };
}

/** One calibrator's transits in [fromMs, toMs) with its window and eligibility at this pointing. */
export function transitsOf(
  cal: Calibrator,
  pointingDecDeg: number | null,
  fromMs: number,
  toMs: number,
  cfg: ScheduleConfig,
  astro: AstroOptions,
): ScheduledTransit[] {
  const w = windowAt(cal, pointingDecDeg, cfg);
  return transitsBetween(cal, fromMs, toMs, astro).map((t) => ({
    name: cal.name,
    model: t.model,
    raDeg: cal.raDeg,
    decDeg: cal.decDeg,
    fluxJy: cal.fluxJy,
    transitMs: t.utcMs,
    lstHours: t.lstHours,
    elevationDeg: t.elevationDeg,
    northOfZenith: t.northOfZenith,
    dut1S: t.dut1S,
    decSepDeg: w.decSepDeg,
    pbResponse: w.pbResponse,
    windowStartMs: t.utcMs - w.halfWindowMs,
    windowEndMs: t.utcMs + w.halfWindowMs,
    eligible: w.eligible,
  }));
}

/** Transits in [fromMs, toMs) of the candidates for the pointing plus the watch list, in time order. */
export function computeSchedule(
  cals: readonly Calibrator[],
  pointingDecDeg: number | null,
  fromMs: number,
  toMs: number,
  cfg: ScheduleConfig,
  astro: AstroOptions,
): ScheduledTransit[] {
  const chosen = new Map<string, Calibrator>();
  if (pointingDecDeg !== null)
    for (const c of candidatesFor(cals, pointingDecDeg, cfg)) chosen.set(c.cal.name, c.cal);
  for (const c of cals) if (cfg.watch.includes(c.name)) chosen.set(c.name, c);
  return [...chosen.values()]
    .flatMap((cal) => transitsOf(cal, pointingDecDeg, fromMs, toMs, cfg, { ...astro, model: cfg.model }))
    .sort((a, b) => a.transitMs - b.transitMs);
}

/** Whether a scheduled transit's window is active at tMs (inclusive edges). */
export function isActive(t: ScheduledTransit, tMs: number): boolean {
  return t.eligible && tMs >= t.windowStartMs && tMs <= t.windowEndMs;
}
