// zscale edge cases, numpy-linear percentiles, stretches, colour maps and the PNG writer.
import { describe, expect, it } from 'vitest';
import {
  colormap,
  colorize,
  encodeIndexedPng,
  percentile,
  stretchFn,
  zscale,
  zscaleFromSamples,
} from '../../../lib/fits/index.js';
import { decodePng, pixel } from './helpers.js';

describe('zscale', () => {
  it('returns the sample min/max when there are fewer than min_npixels samples, null when nothing is finite', () => {
    expect(zscale([3, NaN, 1, 2])).toMatchObject({ vmin: 1, vmax: 3 });
    expect(zscale([NaN, Infinity])).toBeNull();
  });

  it('samples every stride-th finite value: 2500 values → stride 2, 1000 samples', () => {
    const v = Float64Array.from({ length: 2500 }, (_, i) => i);
    expect(zscale(v)!.nSamples).toBe(1000);
    expect(zscaleFromSamples(new Float64Array(0))).toBeNull();
  });

  it('takes n_samples from the options: 2500 values, nSamples 100 → stride 25, 100 samples up to 2475', () => {
    // astropy: values[::25][:100] of the ramp 0…2499 is 0, 25, …, 2475, a straight line: the limits are its
    // ends, (0.0, 2475.0); the default 1000 samples (stride 2) end at 1998.
    const v = Float64Array.from({ length: 2500 }, (_, i) => i);
    expect(zscale(v, { nSamples: 100 })).toEqual({ vmin: 0, vmax: 2475, nSamples: 100 });
    expect(zscale(v)).toEqual({ vmin: 0, vmax: 1998, nSamples: 1000 });
  });

  it('clips to the data for a straight ramp and narrows for a ramp with outliers', () => {
    const ramp = Float64Array.from({ length: 1000 }, (_, i) => i);
    expect(zscale(ramp, { contrast: 0.25 })).toMatchObject({ vmin: 0, vmax: 999 });
    const noisy = Float64Array.from({ length: 1000 }, (_, i) => (i % 100 === 0 ? 1e6 : Math.sin(i) * 0.01));
    const r = zscale(noisy, { contrast: 0.25 })!;
    expect(r.vmax).toBeLessThan(1);
  });
});

/**
 * 300 reproducible values (an integer LCG, so JavaScript and numpy see the same numbers): uniform in
 * [−10, 10] with a +500 outlier every 17th value. Expected limits come from astropy 5.2's ZScaleInterval
 * algorithm run verbatim in numpy (np.polyfit, np.convolve, np.median, ndarray.std with ddof 0).
 */
function lcgSample(n: number, seed: number): Float64Array {
  let s = seed;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = ((Math.imul(s, 1103515245) + 12345) >>> 0) & 0x7fffffff;
    out[i] = ((s >> 8) % 2001) / 100 - 10 + (i % 17 === 0 ? 500 : 0);
  }
  return out;
}

describe('zscale against astropy on edge cases', () => {
  const sample = lcgSample(300, 3);
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

  it('matches astropy on the sample (5 rejection passes leave 260 good values)', () => {
    const r = zscale(sample, { contrast: 0.25 })!;
    expect(r.vmin).toBe(-9.87);
    expect(rel(r.vmax, 42.77826310577385)).toBeLessThan(1e-12);
  });

  it("uses numpy's ddof 0 for the rejection threshold (ddof 1 gives 42.8166…)", () => {
    // Here one residual lies between 2.5·std(ddof=0) and 2.5·std(ddof=1), so the two differ.
    const r = zscale(sample, { contrast: 0.25 })!;
    expect(rel(r.vmax, 42.77826310577385)).toBeLessThan(1e-12);
    expect(rel(r.vmax, 42.81663345274958)).toBeGreaterThan(1e-4);
  });

  it('takes the middle sample as the median of an odd count (299 samples)', () => {
    // numpy run of astropy 5.2's algorithm on lcgSample(299, 3): (-9.87, 42.93958925633092).
    const r = zscale(lcgSample(299, 3), { contrast: 0.25 })!;
    expect(r.vmin).toBe(-9.87);
    expect(rel(r.vmax, 42.93958925633092)).toBeLessThan(1e-12);
  });

  it('keeps the fit when exactly min_npixels values stay good (ngood == minpix), drops it one below', () => {
    const at = zscale(sample, { contrast: 0.25, minNpixels: 260, maxReject: 0 })!;
    expect(rel(at.vmax, 42.77826310577385)).toBeLessThan(1e-12);
    const above = zscale(sample, { contrast: 0.25, minNpixels: 261, maxReject: 0 })!;
    expect([above.vmin, above.vmax]).toEqual([-9.87, 507.42]);
  });

  it('keeps iterating while ngood == minpix (a sixth pass then rejects below it: the data limits)', () => {
    const r = zscale(sample, { contrast: 0.25, minNpixels: 260, maxReject: 0, maxIterations: 6 })!;
    expect([r.vmin, r.vmax]).toEqual([-9.87, 507.42]);
  });

  it("takes numpy's float32 median of an even-length float32 sample (rounded sum, then halved)", () => {
    // With no fit (no iteration) the limits are the median itself. float32(1 + (1 + 2⁻²³)) rounds to 2,
    // so numpy.median gives exactly 1; a float64 median would be 1 + 2⁻²⁴.
    const two = Float64Array.from([1, 1 + 2 ** -23]);
    const opts = { maxIterations: 0, minNpixels: 1, maxReject: 0 };
    expect(zscaleFromSamples(two, opts, 'float32')).toMatchObject({ vmin: 1, vmax: 1 });
    expect(zscaleFromSamples(two, opts, 'float64')).toMatchObject({ vmin: 1 + 2 ** -24, vmax: 1 + 2 ** -24 });
    // numpy: np.median(np.float32([0.1, 0.2, 0.3, 0.7])) == np.float32(0.25), not (0.2f + 0.3f) / 2.
    const four = Float64Array.from([0.1, 0.2, 0.3, 0.7].map(Math.fround));
    expect(zscaleFromSamples(four, opts, 'float32')!.vmin).toBe(Math.fround(0.25));
    // The sum is float32 too: near the float32 maximum it overflows to inf, as numpy's does.
    const huge = Float64Array.from([3e38, 3.2e38].map(Math.fround));
    expect(zscaleFromSamples(huge, opts, 'float32')!.vmin).toBe(Infinity);
  });

  it('zscale of a single sample is that sample; with min_npixels 1 the fit of one point is flat', () => {
    // astropy: one sample is fewer than min_npixels (5), so no fit runs and the limits are the sample's
    // min and max: np.float64(3.5) twice (np.float32 for float32 data).
    expect(zscale([3.5])).toEqual({ vmin: 3.5, vmax: 3.5, nSamples: 1 });
    expect(zscale(Float32Array.of(-0.25), {}, 'float32')).toEqual({ vmin: -0.25, vmax: -0.25, nSamples: 1 });
    // With min_npixels 1 a fit does run; astropy's np.polyfit raises on one point (LinAlgError), ours takes
    // a line with no slope (0 rather than 0/0 = NaN), so the limits stay the sample.
    expect(zscale([3.5], { minNpixels: 1 })).toEqual({ vmin: 3.5, vmax: 3.5, nSamples: 1 });
  });

  it('contrast 0 leaves the slope undivided: the limits of contrast 1', () => {
    // astropy divides the slope by the contrast only when it is > 0 (numpy run of the same algorithm:
    // (-9.74752142326909, 11.137065776443462) for both).
    for (const contrast of [0, 1]) {
      const r = zscale(sample, { contrast })!;
      expect(rel(r.vmin, -9.74752142326909)).toBeLessThan(1e-12);
      expect(rel(r.vmax, 11.137065776443462)).toBeLessThan(1e-12);
    }
  });

  it("dilates rejected samples numpy's way round when the kernel is even (400 samples: ngrow 4)", () => {
    // np.convolve(mask, ones(4), mode='same') marks 1 sample before and 2 after a rejected one; the mirror
    // image (2 before, 1 after) gives vmax 43.95284761475513. Default options: contrast 0.25.
    const r = zscale(lcgSample(400, 5))!;
    expect(r.vmin).toBe(-9.93);
    expect(rel(r.vmax, 43.92153451505122)).toBeLessThan(1e-12);
    expect(rel(r.vmax, 43.95284761475513)).toBeGreaterThan(1e-4);
  });
});

describe('percentile (numpy linear)', () => {
  it('interpolates like numpy', () => {
    expect(percentile([1, 2, 3, 4], [0, 50, 100, 25])).toEqual([1, 2.5, 4, 1.75]);
    expect(percentile([NaN, 5], [1, 99.5])).toEqual([5, 5]);
    expect(percentile([NaN], [50])).toBeNull();
  });

  it('interpolates from the nearer end, as numpy does: the last bit where the two forms differ', () => {
    // numpy 2.4.6 np.percentile(a, 87.5): t = 0.375 is taken from below (a + d·t), t = 0.75 from above
    // (b − d·(1 − t)); the other form gives 1.10925 and 1.7445000000000002.
    expect(percentile([-2.042, 1.783, -2.167, 0.705, -2.24, -2.989], [87.5])).toEqual([1.1092499999999998]);
    expect(percentile([-1.743, -1.707, 2.895], [87.5])).toEqual([1.7445]);
    // t = 0.5 exactly is taken from above: np.percentile(a, 50) (from below: 0.6485000000000001).
    expect(percentile([2.687, -0.631, -2.71, 1.928], [50])).toEqual([0.6484999999999999]);
  });
});

describe('stretches and colour maps', () => {
  it('astropy stretches map 0 → 0 and 1 → 1', () => {
    for (const s of ['linear', 'sqrt', 'asinh', 'log'] as const) {
      expect(stretchFn(s)(0)).toBeCloseTo(0, 12);
      expect(stretchFn(s)(1)).toBeCloseTo(1, 12);
    }
    expect(stretchFn('asinh')(0.5)).toBeCloseTo(Math.asinh(5) / Math.asinh(10), 12);
  });

  it('colour maps are matplotlib 3.6 bytes (endpoints)', () => {
    const end = (n: Parameters<typeof colormap>[0]) => [
      ...colormap(n).subarray(0, 3),
      ...colormap(n).subarray(765),
    ];
    expect(end('inferno')).toEqual([0, 0, 3, 252, 254, 164]);
    expect(end('viridis')).toEqual([68, 1, 84, 253, 231, 36]);
    expect(end('magma')).toEqual([0, 0, 3, 251, 252, 191]);
    expect(end('gray')).toEqual([0, 0, 0, 255, 255, 255]);
  });

  it('NaN gets an unused palette slot, or the closest mid-map pair is merged to free one', () => {
    const full = Float64Array.from({ length: 257 }, (_, i) => (i === 256 ? NaN : i / 255));
    const c = colorize(full, { vmin: 0, vmax: 1, stretch: 'linear', colormap: 'inferno' });
    expect(c.transparentIndex).not.toBeNull();
    expect(c.transparentIndex!).toBeGreaterThan(0);
    expect(c.transparentIndex!).toBeLessThan(255);
    expect(c.indices[256]).toBe(c.transparentIndex);
    expect(c.indices[0]).toBe(0);
    expect(c.indices[255]).toBe(255);
    const few = colorize([0, 1, NaN], { vmin: 0, vmax: 1, stretch: 'linear', colormap: 'gray' });
    expect(few.indices[2]).toBe(few.transparentIndex);
    expect([few.indices[0], few.indices[1]]).toEqual([0, 255]);
    expect(
      colorize([0, 1], { vmin: 0, vmax: 1, stretch: 'linear', colormap: 'gray' }).transparentIndex,
    ).toBeNull();
  });
});

describe('encodeIndexedPng', () => {
  it('writes north up: FITS row 0 (bottom) is the last PNG row', () => {
    const pal = colormap('gray');
    const png = decodePng(
      encodeIndexedPng(Uint8Array.from([0, 0, 255, 255]), 2, 2, pal, { transparentIndex: 0 }),
    );
    expect(pixel(png, 0, 0)).toEqual([255, 255, 255, 255]);
    expect(pixel(png, 0, 1)).toEqual([0, 0, 0, 0]);
  });
});
