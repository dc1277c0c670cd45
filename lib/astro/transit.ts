// Hour angles and meridian transits in two models:
//  - 'apparent' (default): the hour angle of the source's apparent topocentric place is zero; this is when a
//    calibrator crosses the meridian fields of a transit array.
//  - 'legacy': local apparent sidereal time equals the J2000 right ascension (the original pipeline's
//    definition, 1–2.5 min early because it ignores precession); kept for cross-checks.
// Every solve is Newton on the hour angle, which advances at the sidereal rate.
import { apparentPlace, type Equatorial } from './apparent.js';
import { lstHours, wrapHours, wrapSignedHours } from './sidereal.js';
import { DSA110_SITE, elevationAtTransitDeg, type Site } from './site.js';
import { SIDEREAL_RATE } from './time.js';

export type TransitModel = 'apparent' | 'legacy';
export const TRANSIT_MODELS: readonly TransitModel[] = ['apparent', 'legacy'];

/** UT1−UTC: a constant, or a function of the UTC instant (e.g. an IERS table). */
export type Dut1Input = number | ((utcMs: number) => number);

export interface AstroOptions {
  site?: Site;
  dut1?: Dut1Input;
  model?: TransitModel;
}

export interface Transit {
  utcMs: number;
  model: TransitModel;
  /** Local apparent sidereal time at the transit (hours). */
  lstHours: number;
  /** True elevation at culmination (≤ 90°), and whether that is north of the zenith. */
  elevationDeg: number;
  northOfZenith: boolean;
  /** The declination used for the elevation: apparent of date ('apparent') or J2000 ('legacy'). */
  decDeg: number;
  dut1S: number;
}

const MS_PER_HOUR = 3_600_000;
/** One sidereal day in ms. */
export const SIDEREAL_DAY_MS = (24 * MS_PER_HOUR) / SIDEREAL_RATE;
/** A transit within this many ms of `from` counts as "at from" (nextTransit is inclusive). */
export const TRANSIT_TOLERANCE_MS = 1;

/** Hours of hour angle to ms of time: the hour angle runs at the sidereal rate. */
function haToMs(haHours: number): number {
  // × instead of ÷ would be a 0.5 % scale error, which every use tolerates (Newton's guesses and steps, the
  // 1 ms tolerance): the same transits come out.
  // Stryker disable next-line ArithmeticOperator: equivalent, see above.
  const solarHours = haHours / SIDEREAL_RATE;
  return solarHours * MS_PER_HOUR;
}
const TOL_HOURS = TRANSIT_TOLERANCE_MS / haToMs(1);

export function dut1At(dut1: Dut1Input | undefined, utcMs: number): number {
  if (dut1 === undefined) return 0;
  return typeof dut1 === 'number' ? dut1 : dut1(utcMs);
}

interface Resolved {
  site: Site;
  dut1: Dut1Input | undefined;
  model: TransitModel;
}
const resolve = (o: AstroOptions = {}): Resolved => ({
  site: o.site ?? DSA110_SITE,
  dut1: o.dut1,
  model: o.model ?? 'apparent',
});

/** Hour angle in hours (−12, 12] of a J2000 source at a UTC instant, in the chosen model. */
export function hourAngleHours(src: Equatorial, utcMs: number, opts?: AstroOptions): number {
  const o = resolve(opts);
  return hourAngle(src, utcMs, o).ha;
}

function hourAngle(
  src: Equatorial,
  utcMs: number,
  o: Resolved,
): { ha: number; last: number; decDeg: number } {
  const last = lstHours(utcMs, { lonDeg: o.site.lonDeg, dut1S: dut1At(o.dut1, utcMs) });
  if (o.model === 'legacy') return { ha: wrapSignedHours(last - src.raDeg / 15), last, decDeg: src.decDeg };
  const app = apparentPlace(src, utcMs, o.site, last);
  return { ha: wrapSignedHours(last - app.raDeg / 15), last, decDeg: app.decDeg };
}

/**
 * Newton steps from a guess within a few hours of the transit; converges to microseconds in 2–3 steps.
 * The hour angle is linear in time to a few parts in a million over a day, so the first step already lands
 * within a microsecond of the root: the step cap, the stopping rule and the exact slope change how many
 * steps are taken, never the root. Mutants there are equivalent (disabled below, with that reason).
 */
function polish(src: Equatorial, guessMs: number, o: Resolved): number {
  let t = guessMs;
  // Stryker disable next-line EqualityOperator,UpdateOperator: the cap is never reached (see above).
  for (let i = 0; i < 6; i++) {
    const step = haToMs(hourAngle(src, t, o).ha);
    t -= step;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: more or fewer steps, same root (< 1 µs).
    if (Math.abs(step) < 0.005) break;
  }
  return t;
}

function describe(src: Equatorial, utcMs: number, o: Resolved): Transit {
  const h = hourAngle(src, utcMs, o);
  const el = elevationAtTransitDeg(h.decDeg, o.site.latDeg);
  return {
    utcMs,
    model: o.model,
    lstHours: h.last,
    elevationDeg: el.elevationDeg,
    northOfZenith: el.northOfZenith,
    decDeg: h.decDeg,
    dut1S: dut1At(o.dut1, utcMs),
  };
}

/** The first transit at or after fromMs (inclusive: a transit within 1 ms of fromMs is returned). */
export function nextTransit(src: Equatorial, fromMs: number, opts?: AstroOptions): Transit {
  const o = resolve(opts);
  return describe(src, nextTransitMs(src, fromMs, o), o);
}

// The hour angle to go (in (−tolerance, 24 − tolerance]) is exact at fromMs, and the root lies within
// microseconds of the linear guess, so the polished transit is at or after fromMs − tolerance: no after-check.
function nextTransitMs(src: Equatorial, fromMs: number, o: Resolved): number {
  let toGo = wrapHours(-hourAngle(src, fromMs, o).ha);
  // Stryker disable next-line EqualityOperator: > or ≥ differ only when toGo is exactly 24 h − 1 ms.
  if (toGo > 24 - TOL_HOURS) toGo -= 24;
  return polish(src, fromMs + haToMs(toGo), o);
}

/** The last transit strictly before beforeMs (more than 1 ms before it). */
export function previousTransit(src: Equatorial, beforeMs: number, opts?: AstroOptions): Transit {
  const o = resolve(opts);
  const since = wrapHours(hourAngle(src, beforeMs, o).ha);
  let t = polish(src, beforeMs - haToMs(since), o);
  // Stryker disable next-line EqualityOperator: ≥ or > differ only for a transit exactly 1 ms before beforeMs.
  if (t >= beforeMs - TRANSIT_TOLERANCE_MS) t = polish(src, t - SIDEREAL_DAY_MS, o);
  return describe(src, t, o);
}

/** All transits in [startMs, endMs), in time order. */
export function transitsBetween(
  src: Equatorial,
  startMs: number,
  endMs: number,
  opts?: AstroOptions,
): Transit[] {
  const o = resolve(opts);
  const out: Transit[] = [];
  let t = nextTransitMs(src, startMs, o);
  while (t < endMs) {
    out.push(describe(src, t, o));
    t = polish(src, t + SIDEREAL_DAY_MS, o);
  }
  return out;
}
