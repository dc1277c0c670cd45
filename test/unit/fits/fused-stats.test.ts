// The render's statistics ride in the downsampler's loop (Downsampler.addWithMoments) and the median goes
// through a key histogram: both must give exactly the numbers of the separate pass and of a full sort.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Downsampler,
  planeStats,
  renderThumbnail,
  StatsAccumulator,
  writeFitsImage,
  type DownsampleMode,
  type PlaneStats,
} from '../../../lib/fits/index.js';
import { addMoments, Moments } from '../../../lib/fits/moments.js';
import { medianInPlace } from '../../../lib/fits/sorted.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { mulberry32 } from '../../helpers/random.js';
import { makeTmpDir, removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-fused-')));
afterAll(() => removeTmpDir(dir));

/** Noise with NaN runs, lone NaNs and infinities in every position of an eight-pixel block. */
function awkwardPlane(nx: number, ny: number, seed: number, f32: boolean): Float32Array | Float64Array {
  const rand = mulberry32(seed);
  const px = f32 ? new Float32Array(nx * ny) : new Float64Array(nx * ny);
  for (let i = 0; i < px.length; i++) {
    const x = i % nx;
    const r = rand();
    if (x < 5 || (x > nx - 9 && i % 3 === 0))
      px[i] = NaN; // masked edges (bins that start non-finite)
    else if (r < 0.01) px[i] = NaN;
    else if (r < 0.012) px[i] = r < 0.011 ? Infinity : -Infinity;
    else px[i] = (rand() - 0.5) * 1e-3 + (r > 0.999 ? 0.5 : 0) + 1e4 * Number(i === 77);
  }
  return px;
}

function separate(
  px: Float32Array | Float64Array,
  nx: number,
  ny: number,
  maxDim: number,
  mode: DownsampleMode,
) {
  const ds = new Downsampler(nx, ny, maxDim, mode);
  const m = new Moments();
  for (let y = 0; y < ny; y++) {
    ds.add(px.subarray(y * nx, (y + 1) * nx), y, 1);
    addMoments(m, px, y * nx, (y + 1) * nx);
  }
  return { data: ds.data, nFinite: ds.nFinite, m };
}

function fused(
  px: Float32Array | Float64Array,
  nx: number,
  ny: number,
  maxDim: number,
  mode: DownsampleMode,
  stripRows: number,
) {
  const ds = new Downsampler(nx, ny, maxDim, mode);
  const m = new Moments();
  for (let y0 = 0; y0 < ny; y0 += stripRows) {
    const rows = Math.min(stripRows, ny - y0);
    ds.addWithMoments(px.subarray(y0 * nx, (y0 + rows) * nx), y0, rows, m);
  }
  return { data: ds.data, nFinite: ds.nFinite, m };
}

describe('fused statistics', () => {
  it('addWithMoments gives the grid of add() and the moments of addMoments() bit for bit', () => {
    // Bin widths of 1, 3–4 (not a multiple of eight), 8 and 16, float32 and float64, every mode.
    for (const [nx, ny, maxDim] of [
      [64, 48, 64],
      [203, 61, 64],
      [512, 40, 64],
      [1024, 33, 64],
    ]) {
      for (const f32 of [true, false]) {
        const px = awkwardPlane(nx, ny, nx + ny, f32);
        for (const mode of ['mean', 'max', 'nearest'] as const) {
          const want = separate(px, nx, ny, maxDim, mode);
          for (const strip of [1, 7, ny]) {
            const got = fused(px, nx, ny, maxDim, mode, strip);
            expect(got.m).toEqual(want.m);
            expect(got.nFinite).toBe(want.nFinite);
            expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
          }
        }
        expect(fused(px, nx, ny, maxDim, 'mean', 7).m.nFinite).toBeGreaterThan(0);
      }
    }
  });

  it('a float64 overflow in the moments is the separate pass overflow', () => {
    const nx = 32;
    const px = Float64Array.from({ length: nx * 4 }, (_, i) => (i % 5 === 0 ? 1.5e308 : i));
    const want = separate(px, nx, 4, 8, 'mean');
    const got = fused(px, nx, 4, 8, 'mean', 4);
    expect(want.m.sum).toBe(Infinity);
    expect(got.m).toEqual(want.m);
  });

  const planeKeys = (s: PlaneStats) => ({ ...s });
  const real = [
    'parkes-1904-66_AZP.fits',
    'ngc1316r.fit',
    'datacube.fit',
    'gildas-example_cube.fits',
    'astropy-scale.fits',
    'astropy-arange.fits',
  ];

  it.each(real)('%s: the render statistics equal `contimg fits stats`, every downsample mode', (file) => {
    const f = path.join(SHARED_DATA, 'fits', file);
    expect(fs.existsSync(f)).toBe(true);
    const p = planeStats(f);
    const { hdu, bitpix, dataBitpix, shape, plane, planeNx, planeNy, zscale, contrast, ...want } = p;
    void [hdu, bitpix, dataBitpix, shape, plane, planeNx, planeNy, zscale, contrast];
    for (const downsample of ['mean', 'max', 'nearest'] as const) {
      for (const maxDim of [7, 64, 512]) {
        const r = renderThumbnail(f, { stats: true, downsample, maxDim });
        expect(planeKeys(r.stats!)).toEqual(want);
        // The statistics do not change the picture.
        expect(r.png.equals(renderThumbnail(f, { downsample, maxDim }).png)).toBe(true);
      }
    }
  });

  it('a simulated image with a NaN disc edge, an odd size and float64 pixels: render = fits stats', () => {
    const sim = writeSimulatedImage({ dir, name: 'odd', nx: 1001, ny: 999, seed: 3, nSources: 20 });
    const f64 = path.join(dir, 'f64.fits');
    const rand = mulberry32(9);
    writeFitsImage({
      path: f64,
      bitpix: -64,
      axes: [777, 301],
      row: (y) =>
        Float64Array.from({ length: 777 }, (_, x) => (x < 3 || y % 50 === 0 ? NaN : rand() - 0.5 + 1e8)),
    });
    for (const f of [sim, f64]) {
      const { median, madStd, sum, std, min, max, nFinite, nNonFinite } = planeStats(f);
      const s = renderThumbnail(f, { stats: true }).stats!;
      expect({ median, madStd, sum, std, min, max, nFinite, nNonFinite }).toEqual({
        median: s.median,
        madStd: s.madStd,
        sum: s.sum,
        std: s.std,
        min: s.min,
        max: s.max,
        nFinite: s.nFinite,
        nNonFinite: s.nNonFinite,
      });
    }
  });
});

describe('median by key histogram', () => {
  const sortedMedian = (a: Float64Array, dtype: 'float32' | 'float64'): number => {
    const s = Float64Array.from(a).sort();
    const h = s.length >> 1;
    if (s.length % 2) return s[h];
    return dtype === 'float32' ? Math.fround(Math.fround(s[h - 1] + s[h]) / 2) : (s[h - 1] + s[h]) / 2;
  };

  it('gives the median of a full sort on large arrays: noise, ties, one value, signs, ±0, wide range, two buckets, none', () => {
    const rand = mulberry32(41);
    const cases: [string, (i: number) => number][] = [
      ['noise', () => (rand() - 0.5) * 2e-4],
      ['ties', () => Math.round((rand() - 0.3) * 20) / 4],
      ['constant', () => 1890],
      ['negative', () => -1 - rand()],
      ['zeros of both signs', (i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 0 : rand() - 0.5)],
      ['wide', () => (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20)],
      ['float32 noise', () => Math.fround((rand() - 0.5) * 1e-4)],
      // The two middle ranks in two buckets, with values in buckets below and above them both.
      ['middle ranks in two buckets, others on both sides', (i) => [-3, 1, 2, 7][i % 4]],
      // The middle ranks on either side of zero: the buckets between them include +0's, which holds nothing.
      ['two values, a gap across zero', (i) => (i % 2 ? -1 : 1)],
    ];
    for (const n of [16384, 20001, 65536, 100_003]) {
      for (const [name, gen] of cases) {
        const a = Float64Array.from({ length: n }, (_, i) => gen(i));
        const dtype = name.startsWith('float32') ? 'float32' : 'float64';
        const want = sortedMedian(a, dtype);
        const got = medianInPlace(Float64Array.from(a), dtype);
        expect([name, n, got === want]).toEqual([name, n, true]);
      }
    }
    expect(medianInPlace(new Float64Array(0), 'float64')).toBeNaN();
  });

  it('the MAD of a sampled 4096² plane is that of a full sort', () => {
    const rand = mulberry32(5);
    const n = 4096 * 4096;
    const acc = new StatsAccumulator(n);
    const strip = new Float32Array(4096 * 64);
    const sampled: number[] = [];
    let pos = 0;
    for (let y0 = 0; y0 < 4096; y0 += 64) {
      for (let i = 0; i < strip.length; i++) strip[i] = i % 4096 < 300 ? NaN : Math.fround(rand() - 0.5);
      for (let i = 0; i < strip.length; i++)
        if ((pos + i) % 16 === 0 && !Number.isNaN(strip[i])) sampled.push(strip[i]);
      pos += strip.length;
      acc.add(strip);
    }
    const r = acc.result();
    const s = Float64Array.from(sampled);
    const median = sortedMedian(s, 'float32');
    const dev = s.map((v) => Math.abs(Math.fround(v - median)));
    expect(r.robustSamples).toBe(s.length);
    expect([r.median, r.madStd]).toEqual([median, 1.482602218505602 * sortedMedian(dev, 'float32')]);
  }, 60_000);
});
