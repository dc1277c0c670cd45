// Plane statistics (numpy's median, MAD and std) and the QA grade thresholds of the original. The 4096²
// simulated image is in stats-large.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gradeDynamicRange,
  planeStats,
  StatsAccumulator,
  writeFitsImage,
  ZscaleSampler,
} from '../../../lib/fits/index.js';
import { mulberry32 } from '../../helpers/random.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-stats-')));
afterAll(() => removeTmpDir(dir));

describe('statistics', () => {
  it('exact median and MAD for small planes', () => {
    const acc = new StatsAccumulator(7);
    acc.add(Float64Array.from([1, 2, NaN, 4, 100, 3, 5]));
    const s = acc.result();
    expect([s.nFinite, s.nNonFinite, s.min, s.max, s.sum]).toEqual([6, 1, 1, 100, 115]);
    expect(s.median).toBe(3.5);
    expect(s.madStd).toBeCloseTo(1.482602218505602 * 1.5, 12);
    expect(s.std).toBeCloseTo(
      Math.sqrt([1, 2, 4, 100, 3, 5].reduce((a, v) => a + (v - 115 / 6) ** 2, 0) / 6),
      9,
    );
  });

  it("std is numpy's population std (ddof 0)", () => {
    const acc = new StatsAccumulator(4);
    acc.add(Float64Array.from([1, 2, 3, 4]));
    // np.std([1, 2, 3, 4]) = sqrt(1.25); ddof=1 would give sqrt(5/3).
    expect(acc.result().std).toBe(Math.sqrt(1.25));
  });

  it('strip by strip equals one pass when the row length is not a multiple of the sampling stride', () => {
    // 7 × 9 = 63 pixels, at most 21 samples → stride 3; rows of 7 put every row's first sample elsewhere.
    const nx = 7;
    const ny = 9;
    const px = Float64Array.from(
      { length: nx * ny },
      (_, i) => ((i * 37) % 101) - 50 + (i % 5 === 0 ? NaN : 0),
    );
    const whole = new StatsAccumulator(nx * ny, 21);
    whole.add(px);
    const rows = new StatsAccumulator(nx * ny, 21);
    for (let y = 0; y < ny; y++) rows.add(px.subarray(y * nx, (y + 1) * nx));
    const strips = new StatsAccumulator(nx * ny, 21);
    strips.add(px.subarray(0, 4 * nx), 4 * nx);
    strips.add(px.subarray(4 * nx), 5 * nx);
    expect(whole.result().robustSamples).toBe(16); // 21 sampled positions, 5 of them NaN
    expect(whole.result().nNonFinite).toBe(13); // every fifth pixel, the first one included
    expect(rows.result()).toEqual(whole.result());
    expect(strips.result()).toEqual(whole.result());
    // The median and MAD of every third pixel (index 0, 3, 6, …) of the finite values, by hand.
    const sampled = [...px].filter((v, i) => i % 3 === 0 && Number.isFinite(v)).sort((a, b) => a - b);
    const mid = sampled.length >> 1;
    expect(whole.result().median).toBe(
      sampled.length % 2 ? sampled[mid] : (sampled[mid - 1] + sampled[mid]) / 2,
    );
    // zscale's sampler keeps its countdown across strips the same way.
    const zWhole = new ZscaleSampler(50, 20);
    zWhole.add(px);
    const zRows = new ZscaleSampler(50, 20);
    for (let y = 0; y < ny; y++) zRows.add(px.subarray(y * nx, (y + 1) * nx));
    expect([...zRows.result()]).toEqual([...zWhole.result()]);
  });

  it('strips shorter than the sampling stride (one or two pixels) still sample every stride-th pixel of the plane', () => {
    // 7 × 9 pixels, stride 3 (as above): a one-pixel strip holds a sampled position only every third strip.
    const px = Float64Array.from({ length: 63 }, (_, i) => ((i * 53) % 97) - 40 + (i % 4 === 1 ? NaN : 0));
    const whole = new StatsAccumulator(63, 21);
    whole.add(px);
    const ones = new StatsAccumulator(63, 21);
    for (let i = 0; i < 63; i++) ones.add(px.subarray(i, i + 1));
    const twos = new StatsAccumulator(63, 21);
    for (let i = 0; i < 63; i += 2) twos.add(px.subarray(i, i + 2));
    const sampled = [...px].filter((v, i) => i % 3 === 0 && Number.isFinite(v)).sort((a, b) => a - b);
    // 21 sampled positions (0, 3, …, 60), 5 of them NaN (9, 21, 33, 45, 57): np.median of 16 values.
    expect(whole.result().robustSamples).toBe(16);
    expect(whole.result().median).toBe((sampled[7] + sampled[8]) / 2);
    expect(ones.result()).toEqual(whole.result());
    expect(twos.result()).toEqual(whole.result());
  });

  it('keeps at most maxSamples samples however large the plane (2⁴⁰ pixels: 2²⁰ samples, stride 2²⁰)', () => {
    // The sample buffer is sized ⌈pixels / stride⌉, bounded by maxSamples; a 2⁴⁰-pixel plane would not
    // fit in memory otherwise. Its first strip samples pixel 0 only.
    const acc = new StatsAccumulator(2 ** 40);
    acc.add(Float64Array.of(4, 5, 6));
    expect(acc.result()).toMatchObject({ nFinite: 3, median: 4, robustSamples: 1 });
  });

  it('counts only the first n pixels of a longer strip buffer (a reused buffer holds stale pixels after them)', () => {
    // add(px, n) takes the next n pixels of px: two strips of 3 pixels handed over in one reused 4-pixel buffer.
    const stale = new Float64Array(4);
    const acc = new StatsAccumulator(6);
    stale.set([5, 1, 4, 1000]);
    acc.add(stale, 3);
    stale.set([2, 8, 7]);
    acc.add(stale, 3);
    const want = new StatsAccumulator(6);
    want.add(Float64Array.of(5, 1, 4, 2, 8, 7));
    expect(acc.result()).toEqual(want.result());
    expect(acc.result()).toMatchObject({ nFinite: 6, max: 8, median: 4.5, robustSamples: 6 });
    // zscale's sampler likewise.
    const z = new ZscaleSampler(6);
    stale.set([5, 1, 4, 1000]);
    z.add(stale, 3);
    stale.set([2, 8, 7]);
    z.add(stale, 3);
    expect([...z.result()]).toEqual([5, 1, 4, 2, 8, 7]);
  });

  it("median and MAD are numpy's: np.median in the data's dtype (float32 pixels give float32 medians)", () => {
    // numpy 2.4: x = [0.1, 0.2, 0.3, 0.7, 1.3, -0.4]; np.median(x), np.median(np.abs(x - np.median(x))).
    const x = [0.1, 0.2, 0.3, 0.7, 1.3, -0.4];
    const f32 = new StatsAccumulator(6);
    f32.add(Float32Array.from(x));
    expect([f32.result().median, f32.result().madStd]).toEqual([
      0.25,
      1.482602218505602 * 0.30000001192092896,
    ]);
    const f64 = new StatsAccumulator(6);
    f64.add(Float64Array.from(x));
    expect([f64.result().median, f64.result().madStd]).toEqual([0.25, 1.482602218505602 * 0.3]);
    // np.median([0.1, 0.7]) == 0.39999999999999997: (a + b) / 2, not a + (b − a) / 2.
    const two = new StatsAccumulator(2);
    two.add(Float64Array.from([0.7, 0.1]));
    expect(two.result().median).toBe(0.39999999999999997);
  });

  it('median and MAD by selection are exactly those of a full sort (odd, even, ties, sampled planes)', () => {
    const rand = mulberry32(18);
    for (const [n, maxSamples] of [
      [1, 8],
      [2, 8],
      [1001, 1 << 20],
      [1000, 1 << 20],
      [5000, 777],
      [4096, 64],
      [2000, 1 << 20],
      [6000, 1 << 20],
    ]) {
      // Ties (values in steps of 1/8) for the first sizes, distinct values for the last two.
      const step = n === 2000 || n === 6000 ? 0 : 8;
      const px = Float64Array.from({ length: n }, () =>
        step ? Math.round((rand() - 0.3) * 40) / step : (rand() - 0.3) * 40,
      );
      const acc = new StatsAccumulator(n, maxSamples);
      acc.add(px);
      const stride = Math.ceil(n / maxSamples);
      const sorted = px.filter((_, i) => i % stride === 0).sort();
      // np.median: the middle value, or the mean of the two middle values.
      const pct = (a: Float64Array): number => {
        const h = a.length >> 1;
        return a.length % 2 ? a[h] : (a[h - 1] + a[h]) / 2;
      };
      const median = pct(sorted);
      const mad = pct(sorted.map((v) => Math.abs(v - median)).sort());
      const r = acc.result();
      expect([r.median, r.madStd]).toEqual([median, 1.482602218505602 * mad]);
    }
  });

  it('takes the peak from the most extreme pixel even when it is negative', () => {
    const acc = new StatsAccumulator(8);
    acc.add(Float64Array.from([0.1, -0.2, 0.3, -50, 0.2, 0.1, 0, 2]));
    const s = acc.result();
    expect(s.peakAbs).toBe(50);
    expect(s.dynamicRange).toBeCloseTo(50 / s.madStd!, 12);
  });

  it('keeps std exact under a large offset (1e8 plus unit noise): no cancellation', () => {
    const n = 20_000;
    const px = Float64Array.from({ length: n }, (_, i) => 1e8 + Math.sin(i * 12.9898) * Math.SQRT2);
    const acc = new StatsAccumulator(n);
    acc.add(px);
    const mean = px.reduce((a, v) => a + v, 0) / n;
    const exact = Math.sqrt(px.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
    const s = acc.result();
    expect(exact).toBeGreaterThan(0.9);
    expect(Math.abs(s.std! / exact - 1)).toBeLessThan(1e-9);
    expect(Math.abs(s.mean! / mean - 1)).toBeLessThan(1e-15);
  });

  it('a constant or blank plane has no dynamic range and is never graded excellent', () => {
    for (const plane of [
      new Float32Array(64).fill(1890),
      new Float32Array(64).fill(NaN),
      new Float32Array(64),
    ]) {
      const acc = new StatsAccumulator(plane.length);
      acc.add(plane);
      const s = acc.result();
      expect(s.dynamicRange).toBeNull();
      expect(gradeDynamicRange(s.dynamicRange)).toBe('unknown');
    }
    // The same through the file reader: a constant BITPIX −32 plane and an all-BLANK BITPIX 16 plane.
    const constant = `${dir}/const.fits`;
    writeFitsImage({ path: constant, bitpix: -32, axes: [16, 16], row: () => new Float32Array(16).fill(7) });
    const blank = `${dir}/blank.fits`;
    writeFitsImage({
      path: blank,
      bitpix: 16,
      axes: [16, 16],
      cards: [['BLANK', -32768]],
      row: () => new Int16Array(16).fill(-32768),
    });
    for (const f of [constant, blank]) {
      const r = planeStats(f);
      expect(r.dynamicRange).toBeNull();
      expect(gradeDynamicRange(r.dynamicRange)).not.toBe('excellent');
    }
    // An infinite or NaN ratio is no measurement either.
    expect(gradeDynamicRange(Infinity)).toBe('unknown');
  });

  it('grades with strict thresholds: 1000 good, 100 marginal, 10 poor, 0 and missing unknown, negative poor', () => {
    expect(gradeDynamicRange(1000.01)).toBe('excellent');
    expect(gradeDynamicRange(1000)).toBe('good');
    expect(gradeDynamicRange(100.5)).toBe('good');
    expect(gradeDynamicRange(100)).toBe('marginal');
    expect(gradeDynamicRange(10.1)).toBe('marginal');
    expect(gradeDynamicRange(10)).toBe('poor');
    expect(gradeDynamicRange(0)).toBe('unknown');
    expect(gradeDynamicRange(null)).toBe('unknown');
    expect(gradeDynamicRange(-5)).toBe('poor');
  });
});
