// The dish primary beam as an Airy pattern, (2·J1(x)/x)² with x = π·D·sin θ / λ. (The original's
// catalogs.py used (2(sin x − x cos x)/x²)², which is ~0 on axis; defect 11.)
import { SIDEREAL_DAY_S } from './time.js';

export interface BeamOptions {
  freqHz?: number;
  dishM?: number;
}
export const DEFAULT_BEAM = Object.freeze({ freqHz: 1.405e9, dishM: 4.65 });
const C_MS = 299_792_458;
const DEG = Math.PI / 180;
/** x where (2·J1(x)/x)² = 1/2. */
const X_HALF_POWER = 1.616339948310703;

/** Bessel function of the first kind, order 1 (rational approximations, |error| < 1e-8). */
export function besselJ1(x: number): number {
  const ax = Math.abs(x);
  if (ax < 8) {
    const y = x * x;
    const n =
      x *
      (72362614232.0 +
        y * (-7895059235.0 + y * (242396853.1 + y * (-2972611.439 + y * (15704.4826 + y * -30.16036606)))));
    const d =
      144725228442.0 + y * (2300535178.0 + y * (18583304.74 + y * (99447.43394 + y * (376.9991397 + y))));
    return n / d;
  }
  const z = 8 / ax;
  const y = z * z;
  const xx = ax - 2.356194491;
  const p = 1 + y * (0.183105e-2 + y * (-0.3516396496e-4 + y * (0.2457520174e-5 + y * -0.240337019e-6)));
  const q =
    0.04687499995 +
    y * (-0.2002690873e-3 + y * (0.8449199096e-5 + y * (-0.88228987e-6 + y * 0.105787412e-6)));
  const v = Math.sqrt(0.636619772 / ax) * (Math.cos(xx) * p - z * Math.sin(xx) * q);
  return x < 0 ? -v : v;
}

/** Power response (0–1) of the Airy beam at an angular offset from the pointing centre. */
export function airyResponse(offsetDeg: number, opts: BeamOptions = {}): number {
  const { freqHz, dishM } = { ...DEFAULT_BEAM, ...opts };
  const x = (Math.PI * dishM * Math.sin(Math.abs(offsetDeg) * DEG) * freqHz) / C_MS;
  if (x < 1e-9) return 1;
  const a = (2 * besselJ1(x)) / x;
  return a * a;
}

/** Full width at half power in degrees (2.706° for 4.65 m at 1.405 GHz). */
export function airyFwhmDeg(opts: BeamOptions = {}): number {
  const { freqHz, dishM } = { ...DEFAULT_BEAM, ...opts };
  return (2 * Math.asin((X_HALF_POWER * C_MS) / (Math.PI * dishM * freqHz))) / DEG;
}

/**
 * How long (s) either side of transit a source at decSrcDeg stays inside the half-power beam of a meridian
 * pointing at decPointingDeg: the hour angle where the separation reaches FWHM/2, in sidereal time.
 * 0 when the source never enters the half-power beam.
 */
export function beamCrossingHalfWidthS(
  decPointingDeg: number,
  decSrcDeg: number,
  fwhmDeg = airyFwhmDeg(),
): number {
  const r = (fwhmDeg / 2) * DEG;
  const dp = decPointingDeg * DEG;
  const ds = decSrcDeg * DEG;
  const denom = Math.cos(dp) * Math.cos(ds);
  if (denom <= 0) return 0;
  const cosH = (Math.cos(r) - Math.sin(dp) * Math.sin(ds)) / denom;
  if (cosH >= 1) return 0;
  const h = cosH <= -1 ? Math.PI : Math.acos(cosH);
  return (h / (2 * Math.PI)) * SIDEREAL_DAY_S;
}
