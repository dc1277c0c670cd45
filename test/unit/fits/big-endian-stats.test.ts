// The render of an unscaled float32 image reads its statistics straight from the big-endian bytes
// (Downsampler.addBigEndianFloat32WithMoments, StatsAccumulator.sampleBigEndianFloat32): they must be exactly
// the numbers, and the picture exactly the grid, of the decoded path.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Downsampler,
  planeStats,
  renderThumbnail,
  StatsAccumulator,
  writeFitsImage,
} from '../../../lib/fits/index.js';
import { Moments } from '../../../lib/fits/moments.js';
import { mulberry32 } from '../../helpers/random.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-be-stats-')));
afterAll(() => removeTmpDir(dir));

/** Bit patterns no arithmetic gives: a negative quiet NaN, a signalling NaN with a payload. */
const NEG_NAN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];
const SNAN = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0];
const SPECIAL = [NaN, NEG_NAN, SNAN, Infinity, -Infinity, -0, 0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38];

/** float32 noise with masked edges, lone specials in every position of a block, zeros and denormals. */
function awkward(nx: number, ny: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const px = new Float32Array(nx * ny);
  for (let i = 0; i < px.length; i++) {
    const x = i % nx;
    const r = rand();
    if (x < 3 || (x > nx - 7 && i % 2 === 0)) px[i] = i % 4 === 0 ? Infinity : NaN;
    else if (r < 0.03) px[i] = SPECIAL[Math.floor(rand() * SPECIAL.length)];
    else px[i] = (rand() - 0.5) * 1e-3 + (r > 0.995 ? 0.5 : 0);
  }
  return px;
}

/** The same pixels as FITS stores them: big-endian. */
function bigEndian(px: Float32Array): DataView {
  const b = Buffer.from(Float32Array.from(px).buffer);
  b.swap32();
  return new DataView(b.buffer, b.byteOffset, b.length);
}

/** Strip by strip, through the decoded path or the big-endian one. */
function run(px: Float32Array, nx: number, ny: number, maxDim: number, strip: number, be: boolean) {
  const ds = new Downsampler(nx, ny, maxDim, 'mean');
  const m = new Moments();
  const dv = bigEndian(px);
  for (let y0 = 0; y0 < ny; y0 += strip) {
    const rows = Math.min(strip, ny - y0);
    if (be) {
      const bytes = new DataView(dv.buffer, dv.byteOffset + 4 * y0 * nx, 4 * rows * nx);
      ds.addBigEndianFloat32WithMoments(bytes, y0, rows, m);
    } else ds.addWithMoments(px.subarray(y0 * nx, (y0 + rows) * nx), y0, rows, m);
  }
  return { data: Buffer.from(ds.data.buffer), nFinite: ds.nFinite, m };
}

describe('statistics from big-endian bytes', () => {
  it('addBigEndianFloat32WithMoments = addWithMoments after decoding, bit for bit', () => {
    // Bin widths 1, 3-4, 8, 16 and 37; row lengths not multiples of eight; strips of one row, seven, all.
    for (const [nx, ny, maxDim] of [
      [64, 40, 64],
      [203, 31, 64],
      [517, 21, 64],
      [1024, 17, 64],
      [2371, 9, 64],
    ]) {
      const px = awkward(nx, ny, nx);
      for (const strip of [1, 7, ny]) {
        const want = run(px, nx, ny, maxDim, strip, false);
        const got = run(px, nx, ny, maxDim, strip, true);
        expect(got.m).toEqual(want.m);
        expect(got.nFinite).toBe(want.nFinite);
        expect(got.data.equals(want.data)).toBe(true);
      }
    }
  });

  it('takes the shift, the signs of zero and the extremes as the decoded path does', () => {
    // A first row without a finite pixel; zeros of both signs as the extremes; an infinity after them.
    const nx = 21;
    const rows = [
      Array.from({ length: nx }, (_, x) => (x % 2 ? NaN : -Infinity)),
      Array.from({ length: nx }, (_, x) => (x === 4 ? -0 : x === 9 ? 1e-45 : x === 12 ? Infinity : 0)),
      Array.from({ length: nx }, (_, x) => (x === 0 ? NaN : x === 20 ? -1e-45 : -0)),
    ];
    const px = Float32Array.from(rows.flat());
    const want = run(px, nx, 3, 5, 1, false);
    const got = run(px, nx, 3, 5, 1, true);
    expect(got.m).toEqual(want.m);
    expect(Object.is(got.m.shift, 0)).toBe(true);
    expect([got.m.nFinite, got.m.min, got.m.max]).toEqual([
      2 * (nx - 1),
      Math.fround(-1e-45),
      Math.fround(1e-45),
    ]);
    expect(got.data.equals(want.data)).toBe(true);
  });

  it('sampleBigEndianFloat32 = sample after decoding: strided across strips, in float32', () => {
    for (const [n, maxSamples, strip] of [
      [1000, 1000, 1000],
      [10_007, 999, 333],
      [10_007, 1234, 97],
    ]) {
      const px = awkward(n, 1, n + maxSamples);
      const dv = bigEndian(px);
      const want = new StatsAccumulator(n, maxSamples);
      const got = new StatsAccumulator(n, maxSamples);
      for (let i = 0; i < n; i += strip) {
        const k = Math.min(strip, n - i);
        want.sample(px.subarray(i, i + k), k);
        got.sampleBigEndianFloat32(new DataView(dv.buffer, dv.byteOffset + 4 * i, 4 * k), k);
      }
      // The moments are the downsampler's part; give both the same so only the samples differ.
      want.moments.nFinite = got.moments.nFinite = 1;
      const w = want.result();
      expect(got.result()).toEqual(w);
      expect(w.robustSamples).toBeGreaterThan(maxSamples / 2);
    }
    // Two samples whose float64 midpoint is not a float32: the median is taken in float32.
    const two = new StatsAccumulator(2);
    two.sampleBigEndianFloat32(bigEndian(Float32Array.from([1, 1 + 2 ** -23])), 2);
    two.moments.nFinite = 2;
    expect(two.result().median).toBe(1);
  });

  it('sampleBigEndianFloat32 after result() throws', () => {
    const acc = new StatsAccumulator(4);
    acc.sampleBigEndianFloat32(bigEndian(Float32Array.from([1, 2, 3, 4])), 4);
    acc.result();
    expect(() => acc.sampleBigEndianFloat32(bigEndian(new Float32Array(1)), 1)).toThrow(
      'pixels added after result()',
    );
  });

  it('Downsampler.addBigEndianFloat32WithMoments needs mode mean', () => {
    const ds = new Downsampler(8, 1, 4, 'max');
    expect(() =>
      ds.addBigEndianFloat32WithMoments(bigEndian(new Float32Array(8)), 0, 1, new Moments()),
    ).toThrow('needs mode mean');
  });

  it('renders an awkward float32 file with the statistics of `contimg fits stats` and the same picture', () => {
    const nx = 603;
    const ny = 77;
    const px = awkward(nx, ny, 11);
    const f = path.join(dir, 'awkward.fits');
    writeFitsImage({ path: f, bitpix: -32, axes: [nx, ny], row: (y) => px.subarray(y * nx, (y + 1) * nx) });
    const { hdu, bitpix, dataBitpix, shape, plane, planeNx, planeNy, zscale, contrast, ...want } =
      planeStats(f);
    void [hdu, bitpix, dataBitpix, shape, plane, planeNx, planeNy, zscale, contrast];
    for (const stripBytes of [4 * nx, 4 * nx * 10, 1 << 20]) {
      const r = renderThumbnail(f, { stats: true, maxDim: 64, stripBytes });
      expect({ ...r.stats }).toEqual(want);
      expect(r.png.equals(renderThumbnail(f, { maxDim: 64, stripBytes }).png)).toBe(true);
    }
    expect(want.nFinite).toBeGreaterThan(nx * ny * 0.8);
  });
});
