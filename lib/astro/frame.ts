// Bridges to astronomy-engine for the parts it models well (nutation, precession, the Earth's orbital
// velocity). Only TT matters to those series, so we build AstroTime values with an explicit TT and never
// touch astronomy-engine's global ΔT model or its UT-keyed sidereal-time cache.
import * as AE from 'astronomy-engine';

/** An AstroTime whose TT is exactly ttDays (its UT field is not used by the functions we call). */
export function astroTimeTT(ttDays: number): AE.AstroTime {
  const t = new AE.AstroTime(ttDays);
  t.tt = ttDays;
  return t;
}

/** Nutation in longitude (arcsec) and the mean obliquity (degrees), IAU 2000B as astronomy-engine truncates it. */
export function nutation(ttDays: number): { dpsiArcsec: number; meanObliquityDeg: number } {
  const tilt = AE.e_tilt(astroTimeTT(ttDays));
  return { dpsiArcsec: tilt.dpsi, meanObliquityDeg: tilt.mobl };
}

/**
 * What the apparent place of a fixed star needs at an instant: the J2000 → true-equator-of-date rotation
 * (rows of the matrix) and the Earth's barycentric velocity in J2000, in units of c.
 */
export interface ApparentFrame {
  rot: number[][];
  betaJ2000: [number, number, number];
}

/** Speed of light in AU/day. */
const C_AUDAY = AE.C_AUDAY;

export function computeFrame(ttDays: number): ApparentFrame {
  const time = astroTimeTT(ttDays);
  const r = AE.Rotation_EQJ_EQD(time).rot;
  const v = AE.BaryState(AE.Body.Earth, time);
  // astronomy-engine stores matrices column-major (rot[i][j] maps component i to component j).
  const rot = [
    [r[0][0], r[1][0], r[2][0]],
    [r[0][1], r[1][1], r[2][1]],
    [r[0][2], r[1][2], r[2][2]],
  ];
  return { rot, betaJ2000: [v.vx / C_AUDAY, v.vy / C_AUDAY, v.vz / C_AUDAY] };
}

/**
 * Frames change by < 0.002″ in ten minutes (aberration drifts ~0.35″/day, nutation's fastest term is slower
 * still), so they are memoised on a 10-minute TT grid: a 48 h schedule of 200 calibrators then needs ~300
 * frames instead of thousands. The cache is bounded and holds pure values.
 */
const FRAME_STEP_DAYS = 10 / 1440;
const cache = new Map<number, ApparentFrame>();
const CACHE_MAX = 4096;

export function frameAt(ttDays: number): ApparentFrame {
  const key = Math.round(ttDays / FRAME_STEP_DAYS);
  let f = cache.get(key);
  if (!f) {
    if (cache.size >= CACHE_MAX) cache.clear();
    f = computeFrame(key * FRAME_STEP_DAYS);
    cache.set(key, f);
  }
  return f;
}
