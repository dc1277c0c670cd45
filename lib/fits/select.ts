// Which 2-D plane of a cube to show. Axes 3..N are located by CTYPE (STOKES; FREQ or another spectral axis)
// and the world value is turned into a pixel with CRVAL/CDELT/CRPIX. The default is plane 0, as the
// original did for WSClean and CASA images (NAXIS3 = NAXIS4 = 1).
import { fitsError } from './errors.js';
import type { HduInfo } from './hdu.js';

export interface PlaneSelect {
  /** A flat plane index over axes 3..N (wins over the others). */
  plane?: number;
  /** 'I', 'Q', 'U', 'V' (FITS Stokes codes 1–4) or a 0-based pixel index on the STOKES axis. */
  stokes?: 'I' | 'Q' | 'U' | 'V' | number;
  /** 0-based pixel index on the spectral axis (FREQ, VELO…, or axis 3 when none is labelled). */
  channel?: number;
}

const STOKES_CODE = { I: 1, Q: 2, U: 3, V: 4 } as const;
const SPECTRAL = /^(FREQ|VELO|VRAD|VOPT|FELO|ZOPT|WAVE|AWAV|ENER|BETA|VELOCITY)/;

function axisKey(hdu: HduInfo, n: number, key: string): number | string | undefined {
  const v = hdu.header.values.get(`${key}${n}`);
  return typeof v === 'number' || typeof v === 'string' ? v : undefined;
}

function ctype(hdu: HduInfo, n: number): string {
  return String(axisKey(hdu, n, 'CTYPE') ?? '')
    .trim()
    .toUpperCase();
}

function worldToPixel(hdu: HduInfo, n: number, world: number): number {
  const crval = Number(axisKey(hdu, n, 'CRVAL') ?? 0);
  const cdelt = Number(axisKey(hdu, n, 'CDELT') ?? 1) || 1;
  const crpix = Number(axisKey(hdu, n, 'CRPIX') ?? 1);
  return Math.round(crpix + (world - crval) / cdelt) - 1;
}

export function planeIndexFor(hdu: HduInfo, select: PlaneSelect = {}): number {
  const extra = hdu.axes.slice(2);
  const nPlanes = extra.reduce((a, b) => a * b, 1);
  if (select.plane !== undefined) {
    if (!Number.isInteger(select.plane) || select.plane < 0 || select.plane >= nPlanes) {
      throw fitsError('BAD_PLANE', `plane ${select.plane} out of range 0..${nPlanes - 1}`);
    }
    return select.plane;
  }
  const idx = extra.map(() => 0);
  if (select.stokes !== undefined) {
    const k = extra.findIndex((_, i) => ctype(hdu, i + 3) === 'STOKES');
    if (k < 0) throw fitsError('BAD_PLANE', 'no STOKES axis in this image');
    idx[k] =
      typeof select.stokes === 'number'
        ? select.stokes
        : worldToPixel(hdu, k + 3, STOKES_CODE[select.stokes]);
  }
  if (select.channel !== undefined) {
    let k = extra.findIndex((_, i) => SPECTRAL.test(ctype(hdu, i + 3)));
    if (k < 0) k = extra.findIndex((_, i) => ctype(hdu, i + 3) !== 'STOKES');
    if (k < 0) throw fitsError('BAD_PLANE', 'no spectral axis in this image');
    idx[k] = select.channel;
  }
  let plane = 0;
  let stride = 1;
  for (let i = 0; i < extra.length; i++) {
    if (!Number.isInteger(idx[i]) || idx[i] < 0 || idx[i] >= extra[i]) {
      throw fitsError(
        'BAD_PLANE',
        `axis ${i + 3} (${ctype(hdu, i + 3) || 'unnamed'}): pixel ${idx[i]} out of range`,
      );
    }
    plane += idx[i] * stride;
    stride *= extra[i];
  }
  return plane;
}
