// Sidereal time. Mean: the IAU 2006 GMST (ERA + the Capitaine et al. 2003 polynomial in TT), exact to the
// microsecond against ERFA gmst06. Apparent: GMST + the equation of the equinoxes, with Δψ from
// astronomy-engine's IAU 2000B series (the source of the ~13 ms residual against astropy's 2000A).
import { nutation } from './frame.js';
import { ttDaysSinceJ2000, ut1DaysSinceJ2000 } from './time.js';

const ARCSEC_TO_RAD = Math.PI / (180 * 3600);
const TWO_PI = 2 * Math.PI;

export type LstKind = 'apparent' | 'mean';

/** Earth rotation angle (radians, [0, 2π)) for UT1 days since J2000. */
export function earthRotationAngle(ut1Days: number): number {
  const frac = ut1Days % 1;
  const turns = (0.779057273264 + 0.00273781191135448 * ut1Days + frac) % 1;
  return (turns < 0 ? turns + 1 : turns) * TWO_PI;
}

/** Greenwich mean sidereal time (IAU 2006) in hours [0, 24) from UT1 and TT days since J2000. */
export function gmstHours(ut1Days: number, ttDays: number): number {
  const t = ttDays / 36525;
  const polyArcsec =
    0.014506 +
    (4612.156534 + (1.3915817 + (-0.00000044 + (-0.000029956 + -0.0000000368 * t) * t) * t) * t) * t;
  return wrapHours(((earthRotationAngle(ut1Days) + polyArcsec * ARCSEC_TO_RAD) * 12) / Math.PI);
}

/** Equation of the equinoxes in hours: Δψ cos ε plus the two largest complementary terms (IERS 2003). */
export function equationOfEquinoxesHours(ttDays: number): number {
  const { dpsiArcsec, meanObliquityDeg } = nutation(ttDays);
  const t = ttDays / 36525;
  // Mean longitude of the Moon's ascending node (IERS 2003), radians.
  const om = ((450160.398036 - 6962890.5431 * t) % 1296000) * ARCSEC_TO_RAD;
  const ct = 0.00264096 * Math.sin(om) + 0.00006352 * Math.sin(2 * om);
  const eeArcsec = dpsiArcsec * Math.cos((meanObliquityDeg * Math.PI) / 180) + ct;
  return eeArcsec / 54000;
}

/** Greenwich apparent sidereal time in hours [0, 24) at a UTC instant with the given UT1−UTC. */
export function gastHours(utcMs: number, dut1S = 0): number {
  const tt = ttDaysSinceJ2000(utcMs);
  return wrapHours(gmstHours(ut1DaysSinceJ2000(utcMs, dut1S), tt) + equationOfEquinoxesHours(tt));
}

/** Local sidereal time (hours [0, 24)), apparent by default, at a UTC instant for an east longitude. */
export function lstHours(utcMs: number, opts: { kind?: LstKind; lonDeg: number; dut1S?: number }): number {
  const dut1 = opts.dut1S ?? 0;
  const g =
    (opts.kind ?? 'apparent') === 'mean'
      ? gmstHours(ut1DaysSinceJ2000(utcMs, dut1), ttDaysSinceJ2000(utcMs))
      : gastHours(utcMs, dut1);
  return wrapHours(g + opts.lonDeg / 15);
}

export function wrapHours(h: number): number {
  const r = h % 24;
  const w = r < 0 ? r + 24 : r;
  return w >= 24 ? 0 : w;
}

/** Wrap an hour angle into (−12, 12]. */
export function wrapSignedHours(h: number): number {
  const r = wrapHours(h);
  return r > 12 ? r - 24 : r;
}
