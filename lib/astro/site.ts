// The observatory site and the meridian geometry that follows from it. Pure functions.

export interface Site {
  latDeg: number;
  /** East longitude in degrees (negative west). */
  lonDeg: number;
  heightM: number;
}

/** DSA-110 as in the pipeline's constants (the project default; the array tee centre is 0.41 s of LST away). */
export const DSA110_SITE: Site = Object.freeze({ latDeg: 37.2314, lonDeg: -118.2817, heightM: 1222 });

export interface MeridianElevation {
  /** True elevation of a source on the meridian, 0–90° (below the horizon: negative). */
  elevationDeg: number;
  /** The source culminates north of the zenith (dec > latitude). */
  northOfZenith: boolean;
  /** The operator convention el = 90 − (lat − dec): above 90° means north of zenith. */
  operatorElevationDeg: number;
}

/** Elevation at upper culmination for a declination at a latitude (no refraction). */
export function elevationAtTransitDeg(decDeg: number, latDeg: number): MeridianElevation {
  const op = 90 - (latDeg - decDeg);
  return { elevationDeg: op > 90 ? 180 - op : op, northOfZenith: op > 90, operatorElevationDeg: op };
}

/** Operator convention used by the DSA-110 pointing tools: el = 90 − (lat − dec). */
export const decToElevation = (decDeg: number, latDeg: number): number => 90 - (latDeg - decDeg);
export const elevationToDec = (elDeg: number, latDeg: number): number => elDeg - 90 + latDeg;

/** Whether a meridian pointing at decDeg lies inside the drive envelope (operator elevation, default 30–125°). */
export function isObservable(
  decDeg: number,
  latDeg: number,
  env: { elMinDeg?: number; elMaxDeg?: number } = {},
): boolean {
  const el = decToElevation(decDeg, latDeg);
  return el >= (env.elMinDeg ?? 30) && el <= (env.elMaxDeg ?? 125);
}
