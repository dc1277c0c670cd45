// The pointing a UVH5 header describes: start/mid/end UTC from Header/time_array (Julian Dates, UTC, as
// pyuvdata writes them; the original read them as seconds and landed in January 2000, defect 8),
// declination and hour angle from extra_keywords (radians), and the apparent RA of date = LAST − HA.
// A sanity gate rejects an epoch outside [2019-01-01, now + 1 day]. Pure: `now` is injected.
import {
  DSA110_SITE,
  dut1At,
  isoUtc,
  lstHours,
  mjdFromUnixMs,
  unixMsFromJd,
  type Dut1Input,
  type Site,
} from '../astro/index.js';
import type { Uvh5Header } from './types.js';

/** The earliest plausible DSA-110 data. */
export const POINTING_EPOCH_MIN_MS = Date.parse('2019-01-01T00:00:00Z');
const DAY_MS = 86_400_000;

export interface HeaderPointing {
  path: string;
  /** First sample minus half an integration, last sample plus half (the samples are integration centres). */
  startUtcMs: number;
  midUtcMs: number;
  endUtcMs: number;
  startUtc: string;
  midUtc: string;
  endUtc: string;
  midMjd: number;
  nTimes: number;
  integrationTimeS: number | null;
  /** Local apparent sidereal time at the mid-time (hours). */
  lstHours: number;
  decDeg: number | null;
  haDeg: number | null;
  /** Apparent RA of date of the phase centre (degrees [0, 360)), null without an hour angle. */
  raAppDeg: number | null;
  /** Why decDeg/haDeg are null (e.g. a non-DSA-110 file), or null when both are present. */
  pointingNote: string | null;
  dut1S: number;
  telescopeName: string | null;
}

export type HeaderPointingResult =
  | { ok: true; pointing: HeaderPointing }
  | {
      ok: false;
      reason: 'epoch_out_of_range' | 'bad_times';
      detail: string;
      pointing: HeaderPointing | null;
    };

export interface PointingOptions {
  nowMs: number;
  site?: Site;
  dut1?: Dut1Input;
}

const RAD = 180 / Math.PI;

/** Derive the pointing from a header; never throws for bad content (the result says why). */
export function pointingFromHeader(h: Uvh5Header, opts: PointingOptions): HeaderPointingResult {
  const times = h.timesJd;
  if (times.length === 0 || !times.every(Number.isFinite)) {
    return {
      ok: false,
      reason: 'bad_times',
      detail: 'Header/time_array is empty or not finite',
      pointing: null,
    };
  }
  const site = opts.site ?? DSA110_SITE;
  const first = unixMsFromJd(times[0]);
  const last = unixMsFromJd(times[times.length - 1]);
  const halfInt = h.integrationTimeS && h.integrationTimeS > 0 ? (h.integrationTimeS * 1000) / 2 : 0;
  const mid = (first + last) / 2;
  const dut1S = dut1At(opts.dut1, mid);
  const last_h = lstHours(mid, { lonDeg: site.lonDeg, dut1S });
  const decDeg = finiteOrNull(h.phaseCenterDecRad) === null ? null : (h.phaseCenterDecRad as number) * RAD;
  const haDeg = finiteOrNull(h.haPhaseCenterRad) === null ? null : (h.haPhaseCenterRad as number) * RAD;
  const missing = [
    decDeg === null ? 'phase_center_dec' : null,
    haDeg === null ? 'ha_phase_center' : null,
  ].filter((x): x is string => x !== null);
  const pointing: HeaderPointing = {
    path: h.path,
    startUtcMs: first - halfInt,
    midUtcMs: mid,
    endUtcMs: last + halfInt,
    startUtc: isoUtc(first - halfInt),
    midUtc: isoUtc(mid),
    endUtc: isoUtc(last + halfInt),
    // From the JDs directly, so the MJD keeps the header's full precision.
    midMjd: (times[0] - 2400000.5 + (times[times.length - 1] - 2400000.5)) / 2,
    nTimes: times.length,
    integrationTimeS: h.integrationTimeS,
    lstHours: last_h,
    decDeg,
    haDeg,
    raAppDeg: haDeg === null ? null : wrapDeg(last_h * 15 - haDeg),
    pointingNote: missing.length
      ? `no ${missing.join(' or ')} in Header/extra_keywords (not a DSA-110 file?)`
      : null,
    dut1S,
    telescopeName: h.telescopeName,
  };
  if (mid < POINTING_EPOCH_MIN_MS || mid > opts.nowMs + DAY_MS) {
    return {
      ok: false,
      reason: 'epoch_out_of_range',
      detail: `mid-time ${pointing.midUtc} (MJD ${mjdFromUnixMs(mid).toFixed(5)}) is outside [2019-01-01, now + 1 day]`,
      pointing,
    };
  }
  return { ok: true, pointing };
}

function finiteOrNull(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

function wrapDeg(d: number): number {
  const r = d % 360;
  const w = r < 0 ? r + 360 : r;
  return w >= 360 ? 0 : w;
}
