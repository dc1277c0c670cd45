// The apparent topocentric place of a fixed (J2000/ICRS) source: precession and nutation to the true
// equator of date, annual aberration from the Earth's barycentric velocity and diurnal aberration from the
// site's rotation velocity. Left out (each below ~0.05 s of hour angle for |dec| ≤ 72°, see
// docs/pointing-monitor.md): light deflection, polar motion, the ICRS frame bias, parallax.
import { frameAt } from './frame.js';
import type { Site } from './site.js';
import { ttDaysSinceJ2000 } from './time.js';

const DEG = Math.PI / 180;
/** Earth's rotation rate (rad/s) and the speed of light (m/s). */
const OMEGA_EARTH = 7.292115e-5;
const C_MS = 299_792_458;
const WGS84_A = 6_378_137;
const WGS84_E2 = 6.69437999014e-3;

export interface Equatorial {
  raDeg: number;
  decDeg: number;
}

/** Distance of the site from the Earth's axis in metres (geodetic → geocentric cylinder radius). */
export function siteAxisDistanceM(site: Site): number {
  const phi = site.latDeg * DEG;
  const n = WGS84_A / Math.sqrt(1 - WGS84_E2 * Math.sin(phi) ** 2);
  return (n + site.heightM) * Math.cos(phi);
}

/**
 * Apparent RA/Dec of date (true equator and equinox) as seen from the site, for a source with J2000
 * coordinates, at a UTC instant whose local apparent sidereal time is lastHours.
 */
export function apparentPlace(src: Equatorial, utcMs: number, site: Site, lastHours: number): Equatorial {
  const f = frameAt(ttDaysSinceJ2000(utcMs));
  const ra = src.raDeg * DEG;
  const dec = src.decDeg * DEG;
  const p0 = [Math.cos(dec) * Math.cos(ra), Math.cos(dec) * Math.sin(ra), Math.sin(dec)];
  const [r0, r1, r2] = f.rot;
  const b = f.betaJ2000;
  const p = [dot(r0, p0), dot(r1, p0), dot(r2, p0)];
  const theta = lastHours * 15 * DEG;
  const vObs = (OMEGA_EARTH * siteAxisDistanceM(site)) / C_MS;
  const beta = [dot(r0, b) - vObs * Math.sin(theta), dot(r1, b) + vObs * Math.cos(theta), dot(r2, b)];
  // First-order aberration, p' ∝ p + β − (p·β)p; the normalisation supplies the second-order size term.
  const pb = p[0] * beta[0] + p[1] * beta[1] + p[2] * beta[2];
  const x = p[0] + beta[0] - pb * p[0];
  const y = p[1] + beta[1] - pb * p[1];
  const z = p[2] + beta[2] - pb * p[2];
  const raApp = Math.atan2(y, x) / DEG;
  return { raDeg: raApp < 0 ? raApp + 360 : raApp, decDeg: Math.atan2(z, Math.hypot(x, y)) / DEG };
}

function dot(a: readonly number[], b: readonly number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
