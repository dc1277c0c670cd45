// Celestial WCS of 2-D images for the mosaic builder: the zenithal projections (SIN, TAN, ARC, STG, ZEA and
// AZP with its tilt), the linear step (CD, PC+CDELT or AIPS CROTA2) and the spherical rotation between native
// and celestial coordinates (Calabretta & Greisen 2002, "Representations of celestial coordinates in FITS").
// Pixel coordinates here are 0-based (FITS pixel − 1); angles in degrees. Every function returns NaN for a
// point the projection cannot represent (the far side of a SIN or TAN plane, beyond AZP's horizon), never a
// wrapped-around wrong answer.
import type { FitsHeader } from '../fits/header.js';

export const ZENITHAL_PROJECTIONS = ['SIN', 'TAN', 'ARC', 'STG', 'ZEA', 'AZP'] as const;
export type Projection = (typeof ZENITHAL_PROJECTIONS)[number];

const D2R = Math.PI / 180;
const R2D = 180 / Math.PI;

export interface CelestialWcs {
  projection: Projection;
  /** 1-based reference pixel, as in the header. */
  crpix: [number, number];
  /** Reference point (RA, Dec), degrees. */
  crval: [number, number];
  /** Linear transform pixel offset → intermediate world (degrees): [cd11, cd12, cd21, cd22]. */
  cd: [number, number, number, number];
  /** Native longitude of the celestial pole, degrees. */
  lonpole: number;
  /** AZP: distance of the point of projection (mu, spherical radii) and tilt (gamma, degrees). */
  azp?: { mu: number; gammaDeg: number };
}

/** Why a header has no usable celestial WCS: which validation code it maps to, and the reason. */
export class WcsError extends Error {
  constructor(
    readonly kind: 'not_celestial' | 'unsupported_projection',
    message: string,
  ) {
    super(message);
    this.name = 'WcsError';
  }
}

function num(h: FitsHeader, key: string): number | undefined {
  const v = h.values.get(key);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(h: FitsHeader, key: string): string {
  const v = h.values.get(key);
  return typeof v === 'string' ? v.trim().toUpperCase() : '';
}

/** The celestial WCS of axes 1 (RA) and 2 (Dec) of a header. */
export function wcsFromHeader(h: FitsHeader): CelestialWcs {
  const c1 = str(h, 'CTYPE1');
  const c2 = str(h, 'CTYPE2');
  if (!c1.startsWith('RA') || !c2.startsWith('DEC')) {
    throw new WcsError('not_celestial', `axes 1 and 2 are not RA and Dec (CTYPE1 '${c1}', CTYPE2 '${c2}')`);
  }
  const p1 = c1.length > 5 ? c1.slice(5, 8) : '';
  const p2 = c2.length > 5 ? c2.slice(5, 8) : '';
  if (p1 !== p2 || !(ZENITHAL_PROJECTIONS as readonly string[]).includes(p1)) {
    throw new WcsError(
      'unsupported_projection',
      `projection '${p1 || 'none'}' (CTYPE1 '${c1}') is not one of ${ZENITHAL_PROJECTIONS.join(', ')}`,
    );
  }
  const projection = p1 as Projection;
  if (projection === 'SIN' && ((num(h, 'PV2_1') ?? 0) !== 0 || (num(h, 'PV2_2') ?? 0) !== 0)) {
    throw new WcsError(
      'unsupported_projection',
      'slant SIN (non-zero PV2_1/PV2_2, e.g. NCP) is not supported',
    );
  }
  const crval: [number, number] = [num(h, 'CRVAL1') ?? 0, num(h, 'CRVAL2') ?? 0];
  const crpix: [number, number] = [num(h, 'CRPIX1') ?? 0, num(h, 'CRPIX2') ?? 0];
  const cd = linearPart(h);
  if (cd[0] * cd[3] - cd[1] * cd[2] === 0) {
    throw new WcsError('not_celestial', 'the pixel-to-world matrix is singular (CDELT or CD of zero)');
  }
  const lonpole = num(h, 'LONPOLE') ?? (crval[1] >= 90 ? 0 : 180);
  const wcs: CelestialWcs = { projection, crpix, crval, cd, lonpole };
  if (projection === 'AZP') wcs.azp = { mu: num(h, 'PV2_1') ?? 0, gammaDeg: num(h, 'PV2_2') ?? 0 };
  return wcs;
}

/** CD matrix, else PC with CDELT, else CDELT with the AIPS rotation CROTA2. */
function linearPart(h: FitsHeader): [number, number, number, number] {
  const cdKeys = ['CD1_1', 'CD1_2', 'CD2_1', 'CD2_2'].map((k) => num(h, k));
  if (cdKeys.some((v) => v !== undefined)) {
    return [cdKeys[0] ?? 0, cdKeys[1] ?? 0, cdKeys[2] ?? 0, cdKeys[3] ?? 0];
  }
  const d1 = num(h, 'CDELT1') ?? 1;
  const d2 = num(h, 'CDELT2') ?? 1;
  const pc = ['PC1_1', 'PC1_2', 'PC2_1', 'PC2_2'].map((k) => num(h, k));
  if (pc.some((v) => v !== undefined)) {
    return [d1 * (pc[0] ?? 1), d1 * (pc[1] ?? 0), d2 * (pc[2] ?? 0), d2 * (pc[3] ?? 1)];
  }
  const rho = (num(h, 'CROTA2') ?? 0) * D2R;
  const [c, s] = [Math.cos(rho), Math.sin(rho)];
  return [d1 * c, -d2 * s, d1 * s, d2 * c];
}

/** The WCS of a mosaic grid: the projection at `center`, which sits at the middle of the canvas. */
export function gridWcs(g: {
  projection: 'SIN' | 'TAN';
  center: { ra: number; dec: number };
  pixel_arcsec: number;
  nx: number;
  ny: number;
}): CelestialWcs {
  const d = g.pixel_arcsec / 3600;
  return {
    projection: g.projection,
    crpix: [(g.nx + 1) / 2, (g.ny + 1) / 2],
    crval: [g.center.ra, g.center.dec],
    cd: [-d, 0, 0, d],
    lonpole: g.center.dec >= 90 ? 0 : 180,
  };
}

/** A Float64Array(2) reused by callers in tight loops. */
export type Vec2 = Float64Array;

/** 0-based pixel → (RA, Dec) degrees, into out; NaN when outside the projection's domain. */
export function pixelToWorld(w: CelestialWcs, px: number, py: number, out: Vec2): Vec2 {
  const dx = px + 1 - w.crpix[0];
  const dy = py + 1 - w.crpix[1];
  const x = w.cd[0] * dx + w.cd[1] * dy;
  const y = w.cd[2] * dx + w.cd[3] * dy;
  deproject(w, x, y, out);
  if (Number.isNaN(out[1])) return out;
  nativeToCelestial(w, out[0], out[1], out);
  return out;
}

/** (RA, Dec) degrees → 0-based pixel, into out; NaN when the point has no place on the plane. */
export function worldToPixel(w: CelestialWcs, ra: number, dec: number, out: Vec2): Vec2 {
  celestialToNative(w, ra, dec, out);
  project(w, out[0], out[1], out);
  const [a, b, c, d] = w.cd;
  const det = a * d - b * c;
  const x = out[0];
  const y = out[1];
  out[0] = (d * x - b * y) / det + w.crpix[0] - 1;
  out[1] = (-c * x + a * y) / det + w.crpix[1] - 1;
  return out;
}

function nativeToCelestial(w: CelestialWcs, phiDeg: number, thetaDeg: number, out: Vec2): void {
  const dp = w.crval[1] * D2R;
  const dphi = (phiDeg - w.lonpole) * D2R;
  const th = thetaDeg * D2R;
  const [st, ct] = [Math.sin(th), Math.cos(th)];
  const [sdp, cdp] = [Math.sin(dp), Math.cos(dp)];
  const a = Math.atan2(-ct * Math.sin(dphi), st * cdp - ct * sdp * Math.cos(dphi));
  const dec = Math.asin(Math.max(-1, Math.min(1, st * sdp + ct * cdp * Math.cos(dphi))));
  let ra = w.crval[0] + a * R2D;
  ra = ((ra % 360) + 360) % 360;
  out[0] = ra;
  out[1] = dec * R2D;
}

function celestialToNative(w: CelestialWcs, raDeg: number, decDeg: number, out: Vec2): void {
  const dp = w.crval[1] * D2R;
  const da = (raDeg - w.crval[0]) * D2R;
  const d = decDeg * D2R;
  const [sd, cd] = [Math.sin(d), Math.cos(d)];
  const [sdp, cdp] = [Math.sin(dp), Math.cos(dp)];
  const phi = w.lonpole * D2R + Math.atan2(-cd * Math.sin(da), sd * cdp - cd * sdp * Math.cos(da));
  const theta = Math.asin(Math.max(-1, Math.min(1, sd * sdp + cd * cdp * Math.cos(da))));
  out[0] = phi * R2D;
  out[1] = theta * R2D;
}

/** Native (phi, theta) → intermediate world (x, y) degrees; NaN outside the projection's domain. */
function project(w: CelestialWcs, phiDeg: number, thetaDeg: number, out: Vec2): void {
  const phi = phiDeg * D2R;
  const th = thetaDeg * D2R;
  let r: number;
  switch (w.projection) {
    case 'SIN':
      r = th >= 0 ? R2D * Math.cos(th) : NaN;
      break;
    case 'TAN':
      r = th > 0 ? (R2D * Math.cos(th)) / Math.sin(th) : NaN;
      break;
    case 'ARC':
      r = 90 - thetaDeg;
      break;
    case 'STG':
      r = th > -Math.PI / 2 ? 2 * R2D * Math.tan((Math.PI / 2 - th) / 2) : NaN;
      break;
    case 'ZEA':
      r = 2 * R2D * Math.sin((Math.PI / 2 - th) / 2);
      break;
    case 'AZP':
      projectAzp(w.azp!, phi, th, out);
      return;
  }
  out[0] = r * Math.sin(phi);
  out[1] = -r * Math.cos(phi);
}

/** Intermediate world (x, y) degrees → native (phi, theta); theta NaN outside the domain. */
function deproject(w: CelestialWcs, x: number, y: number, out: Vec2): void {
  if (w.projection === 'AZP') {
    deprojectAzp(w.azp!, x, y, out);
    return;
  }
  const r = Math.hypot(x, y);
  const phi = r === 0 ? 0 : Math.atan2(x, -y) * R2D;
  let theta: number;
  switch (w.projection) {
    case 'SIN':
      theta = r <= R2D ? Math.acos(r / R2D) * R2D : NaN;
      break;
    case 'TAN':
      theta = Math.atan2(R2D, r) * R2D;
      break;
    case 'ARC':
      theta = r <= 180 ? 90 - r : NaN;
      break;
    case 'STG':
      theta = 90 - 2 * Math.atan(r / (2 * R2D)) * R2D;
      break;
    case 'ZEA':
      theta = r <= 2 * R2D ? 90 - 2 * Math.asin(r / (2 * R2D)) * R2D : NaN;
      break;
  }
  out[0] = phi;
  out[1] = theta;
}

function projectAzp(p: { mu: number; gammaDeg: number }, phi: number, th: number, out: Vec2): void {
  const g = p.gammaDeg * D2R;
  const denom = p.mu + Math.sin(th) + Math.cos(th) * Math.cos(phi) * Math.tan(g);
  if (!(denom > 0)) {
    out[0] = out[1] = NaN;
    return;
  }
  const r = (R2D * (p.mu + 1) * Math.cos(th)) / denom;
  const x = r * Math.sin(phi);
  const y = (-r * Math.cos(phi)) / Math.cos(g);
  // The far-side solution projects onto the same plane point as a near-side one: only a point that
  // deprojects back onto itself is on the visible part of the sphere.
  deprojectAzp(p, x, y, out);
  const back = Math.abs(out[1] * D2R - th) < 1e-9 ? 1 : 0;
  out[0] = back ? x : NaN;
  out[1] = back ? y : NaN;
}

function deprojectAzp(p: { mu: number; gammaDeg: number }, x: number, y: number, out: Vec2): void {
  const g = p.gammaDeg * D2R;
  const r = Math.hypot(x, y * Math.cos(g));
  if (r === 0) {
    out[0] = 0;
    out[1] = 90;
    return;
  }
  const phi = Math.atan2(x, -y * Math.cos(g));
  const rho = r / (R2D * (p.mu + 1) + y * Math.sin(g));
  const psi = Math.atan2(1, rho);
  const s = (rho * p.mu) / Math.sqrt(rho * rho + 1);
  if (Math.abs(s) > 1) {
    out[0] = out[1] = NaN;
    return;
  }
  const omega = Math.asin(s);
  const t1 = norm(psi - omega);
  const t2 = norm(psi + omega + Math.PI);
  const ok1 = Math.abs(t1) <= Math.PI / 2 + 1e-12;
  const ok2 = Math.abs(t2) <= Math.PI / 2 + 1e-12;
  let th: number;
  if (ok1 && ok2) th = Math.abs(t1 - Math.PI / 2) < Math.abs(t2 - Math.PI / 2) ? t1 : t2;
  else if (ok1) th = t1;
  else if (ok2) th = t2;
  else th = NaN;
  out[0] = phi * R2D;
  out[1] = th * R2D;
}

/** An angle brought into (−π, π]. */
function norm(a: number): number {
  let v = a % (2 * Math.PI);
  if (v > Math.PI) v -= 2 * Math.PI;
  if (v <= -Math.PI) v += 2 * Math.PI;
  return v;
}

/** FITS header cards describing a grid WCS (1-based CRPIX, as the standard has it). */
export function wcsCards(w: CelestialWcs): [string, number | string][] {
  return [
    ['CTYPE1', `RA---${w.projection}`],
    ['CRVAL1', w.crval[0]],
    ['CRPIX1', w.crpix[0]],
    ['CDELT1', w.cd[0]],
    ['CUNIT1', 'deg'],
    ['CTYPE2', `DEC--${w.projection}`],
    ['CRVAL2', w.crval[1]],
    ['CRPIX2', w.crpix[1]],
    ['CDELT2', w.cd[3]],
    ['CUNIT2', 'deg'],
    ['LONPOLE', w.lonpole],
  ];
}
