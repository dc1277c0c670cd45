// `contimg fits stats`: statistics and full-plane zscale of the first image HDU's chosen plane, in FITS row
// order, in two bounded-memory passes (the zscale stride needs the finite count first).
import type { HduInfo } from './hdu.js';
import { DEFAULT_MAX_PIXELS } from './look.js';
import { openImage, streamPlane } from './plane.js';
import { planeIndexFor, type PlaneSelect } from './select.js';
import { StatsAccumulator, type PlaneStats } from './stats.js';
import { ZscaleSampler, zscaleFromSamples } from './zscale.js';

export interface PlaneStatsReport extends PlaneStats {
  hdu: number;
  /** BITPIX of the file. */
  bitpix: number;
  /** BITPIX of the physical values as astropy reports it after scaling (e.g. 16 + BSCALE → −32). */
  dataBitpix: number;
  shape: number[];
  plane: number;
  planeNx: number;
  planeNy: number;
  zscale: [number, number] | null;
  contrast: number;
}

const UNSIGNED_OFFSET: Record<number, number> = { 8: -128, 16: 32768, 32: 2 ** 31, 64: 2 ** 63 };

function dataBitpix(hdu: HduInfo, dtype: 'float32' | 'float64'): number {
  const offsetOnly = hdu.bscale === 1 && (hdu.bzero === 0 || hdu.bzero === UNSIGNED_OFFSET[hdu.bitpix]);
  // (Float data decode to their own type, scaled or not: −32 to float32, −64 to float64.)
  if (offsetOnly) return hdu.bitpix;
  return dtype === 'float32' ? -32 : -64;
}

export function planeStats(
  path: string,
  opts: { contrast?: number; select?: PlaneSelect; maxBlocks?: number; maxPixels?: number } = {},
): PlaneStatsReport {
  const contrast = opts.contrast ?? 0.25;
  const img = openImage(path, { maxBlocks: opts.maxBlocks, maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS });
  try {
    const plane = planeIndexFor(img.hdu, opts.select);
    const acc = new StatsAccumulator(img.nx * img.ny);
    let dtype: 'float32' | 'float64' = 'float32';
    streamPlane(img, plane, (px, _y0, rows) => {
      dtype = px instanceof Float32Array ? 'float32' : 'float64';
      acc.add(px, rows * img.nx);
    });
    const stats = acc.result();
    let zscale: [number, number] | null = null;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: with no finite pixel the sampler takes nothing and zscaleFromSamples gives null; the test only saves the second pass
    if (stats.nFinite > 0) {
      const sampler = new ZscaleSampler(stats.nFinite);
      streamPlane(img, plane, (px, _y0, rows) => sampler.add(px, rows * img.nx));
      const r = zscaleFromSamples(sampler.result(), { contrast }, dtype);
      zscale = r && [r.vmin, r.vmax];
    }
    return {
      hdu: img.hdu.index,
      bitpix: img.hdu.bitpix,
      dataBitpix: dataBitpix(img.hdu, dtype),
      shape: [...img.hdu.axes].reverse(),
      plane,
      planeNx: img.nx,
      planeNy: img.ny,
      ...stats,
      zscale,
      contrast,
    };
  } finally {
    img.close();
  }
}
