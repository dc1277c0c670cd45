// The celestial WCS of a mosaic header, as far as QA needs it: sky ↔ pixel for the zenithal SIN and TAN
// projections with the reference point at the native pole (every grid the mosaic planner makes), CDELT with
// an optional PC matrix or a CD matrix. Direction cosines (l, m, n) in the frame of the reference point
// carry both ways: SIN maps (x, y) = (l, m), TAN maps (x, y) = (l/n, m/n). Anything else (AZP, NCP via PV,
// Galactic axes) is refused with a reason, and the checks that need positions are then not measured.
import type { FitsHeader } from '../../fits/header.js';

const DEG = Math.PI / 180;

export interface SkyGrid {
  projection: 'SIN' | 'TAN';
  nx: number;
  ny: number;
  /** Pixel size along the Y axis in degrees (|CDELT2| or the CD column norm). */
  pixelDeg: number;
  /** Sky (degrees) → 0-based pixel (x, y), or null on the far side of the projection. */
  toPixel(raDeg: number, decDeg: number): { x: number; y: number } | null;
  /** 0-based pixel → unit vector (l, m, n) in the reference point's frame (n toward the reference point). */
  toLmn(x: number, y: number): [number, number, number] | null;
  /** A sky position as a unit vector in the same frame (dot it with toLmn to get cos(separation)). */
  lmnOf(raDeg: number, decDeg: number): [number, number, number];
}

function num(h: FitsHeader, key: string, dflt?: number): number | undefined {
  const v = h.values.get(key);
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}

function str(h: FitsHeader, key: string): string {
  const v = h.values.get(key);
  return typeof v === 'string' ? v.trim().toUpperCase() : '';
}

/** The linear part pixel offset → intermediate degrees (2×2, row major) from CD, or CDELT with PC. */
function linearMatrix(h: FitsHeader): [number, number, number, number] | string {
  const cd = ['CD1_1', 'CD1_2', 'CD2_1', 'CD2_2'].map((k) => num(h, k));
  if (cd.some((v) => v !== undefined)) {
    const [a = 0, b = 0, c = 0, d = 0] = cd;
    return [a, b, c, d];
  }
  const c1 = num(h, 'CDELT1');
  const c2 = num(h, 'CDELT2');
  if (c1 === undefined || c2 === undefined || c1 === 0 || c2 === 0) return 'no CDELT1/CDELT2 or CD matrix';
  if (num(h, 'CROTA2', 0) !== 0 && num(h, 'PC1_1') === undefined) return 'CROTA2 rotation is not supported';
  const pc = [num(h, 'PC1_1', 1)!, num(h, 'PC1_2', 0)!, num(h, 'PC2_1', 0)!, num(h, 'PC2_2', 1)!];
  return [c1 * pc[0], c1 * pc[1], c2 * pc[2], c2 * pc[3]];
}

/** The grid of a header, or the reason it cannot be used. */
export function skyGridOf(h: FitsHeader, nx: number, ny: number): SkyGrid | { unsupported: string } {
  const t1 = str(h, 'CTYPE1');
  const t2 = str(h, 'CTYPE2');
  if (!t1.startsWith('RA--') || !t2.startsWith('DEC-'))
    return { unsupported: `axes ${t1 || '?'}/${t2 || '?'} are not RA/DEC` };
  const projection = t1.slice(5, 8);
  if ((projection !== 'SIN' && projection !== 'TAN') || t2.slice(5, 8) !== projection)
    return { unsupported: `projection ${projection || '?'} (QA handles SIN and TAN)` };
  if (projection === 'SIN' && (num(h, 'PV2_1', 0) !== 0 || num(h, 'PV2_2', 0) !== 0))
    return { unsupported: 'slant SIN (PV2_1/PV2_2) is not supported' };
  const lin = linearMatrix(h);
  if (typeof lin === 'string') return { unsupported: lin };
  const [a, b, c, d] = lin;
  const det = a * d - b * c;
  if (det === 0) return { unsupported: 'singular pixel matrix' };
  const crpix1 = num(h, 'CRPIX1', 0)! - 1;
  const crpix2 = num(h, 'CRPIX2', 0)! - 1;
  const ra0 = num(h, 'CRVAL1', 0)! * DEG;
  const dec0 = num(h, 'CRVAL2', 0)! * DEG;
  const sin0 = Math.sin(dec0);
  const cos0 = Math.cos(dec0);
  const lmnOf = (raDeg: number, decDeg: number): [number, number, number] => {
    const da = raDeg * DEG - ra0;
    const dec = decDeg * DEG;
    const cd = Math.cos(dec);
    const sd = Math.sin(dec);
    return [cd * Math.sin(da), sd * cos0 - cd * sin0 * Math.cos(da), sd * sin0 + cd * cos0 * Math.cos(da)];
  };
  return {
    projection,
    nx,
    ny,
    pixelDeg: Math.hypot(b, d),
    lmnOf,
    toPixel(raDeg, decDeg) {
      const [l, m, n] = lmnOf(raDeg, decDeg);
      if (n <= 0) return null;
      const xi = (projection === 'SIN' ? l : l / n) / DEG;
      const eta = (projection === 'SIN' ? m : m / n) / DEG;
      return { x: crpix1 + (d * xi - b * eta) / det, y: crpix2 + (-c * xi + a * eta) / det };
    },
    toLmn(x, y) {
      const dx = x - crpix1;
      const dy = y - crpix2;
      const xi = (a * dx + b * dy) * DEG;
      const eta = (c * dx + d * dy) * DEG;
      if (projection === 'TAN') {
        const r = Math.hypot(xi, eta, 1);
        return [xi / r, eta / r, 1 / r];
      }
      const n2 = 1 - xi * xi - eta * eta;
      return n2 < 0 ? null : [xi, eta, Math.sqrt(n2)];
    },
  };
}
