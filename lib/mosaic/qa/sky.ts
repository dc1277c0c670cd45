// The celestial WCS of a mosaic header, as QA needs it: sky ↔ pixel and unit vectors for separations, on the
// mosaic builder's WCS (lib/mosaic/wcs.ts: the zenithal projections, CD/PC/CROTA2), so QA reads a grid exactly
// as the builder wrote it. A header without a usable celestial WCS is refused with the reason, and the checks
// that need positions are then not measured.
import type { FitsHeader } from '../../fits/header.js';
import { pixelToWorld, wcsFromHeader, WcsError, worldToPixel, type Projection } from '../wcs.js';

const DEG = Math.PI / 180;

export interface SkyGrid {
  projection: Projection;
  nx: number;
  ny: number;
  /** Pixel size along the Y axis in degrees (the CD column norm). */
  pixelDeg: number;
  /** Sky (degrees) → 0-based pixel (x, y), or null where the projection has no place for it. */
  toPixel(raDeg: number, decDeg: number): { x: number; y: number } | null;
  /** 0-based pixel → unit vector on the sky (dot it with lmnOf to get cos(separation)), or null. */
  toLmn(x: number, y: number): [number, number, number] | null;
  /** A sky position as a unit vector in the same frame. */
  lmnOf(raDeg: number, decDeg: number): [number, number, number];
}

function lmnOf(raDeg: number, decDeg: number): [number, number, number] {
  const a = raDeg * DEG;
  const d = decDeg * DEG;
  return [Math.cos(d) * Math.cos(a), Math.cos(d) * Math.sin(a), Math.sin(d)];
}

/** The grid of a header, or the reason it cannot be used. */
export function skyGridOf(h: FitsHeader, nx: number, ny: number): SkyGrid | { unsupported: string } {
  let wcs;
  try {
    wcs = wcsFromHeader(h);
  } catch (err) {
    if (err instanceof WcsError) return { unsupported: err.message };
    throw err;
  }
  const w = wcs;
  const out = new Float64Array(2);
  return {
    projection: w.projection,
    nx,
    ny,
    pixelDeg: Math.hypot(w.cd[1], w.cd[3]),
    lmnOf,
    toPixel(raDeg, decDeg) {
      worldToPixel(w, raDeg, decDeg, out);
      return Number.isFinite(out[0]) && Number.isFinite(out[1]) ? { x: out[0], y: out[1] } : null;
    },
    toLmn(x, y) {
      pixelToWorld(w, x, y, out);
      return Number.isFinite(out[0]) && Number.isFinite(out[1]) ? lmnOf(out[0], out[1]) : null;
    },
  };
}
