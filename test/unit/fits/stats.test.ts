// §7.8 test 14: robust noise on the simulated image and the QA grade thresholds of the original.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeDynamicRange, renderThumbnail, StatsAccumulator } from '../../../lib/fits/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-stats-')));
afterAll(() => removeTmpDir(dir));

describe('statistics', () => {
  it('mad_std of the simulated 4096² image is within 2 % of the true 1e-4; std (sources included) is far above it', () => {
    const p = writeSimulatedImage({
      dir,
      name: 'noise4096',
      nx: 4096,
      ny: 4096,
      seed: 7,
      noiseJy: 1e-4,
      nSources: 300,
    });
    const r = renderThumbnail(p, { stats: true });
    const s = r.stats!;
    expect(Math.abs(s.madStd! / 1e-4 - 1)).toBeLessThan(0.02);
    expect(s.std!).toBeGreaterThan(2 * s.madStd!);
    expect(s.dynamicRange).toBeCloseTo(s.peakAbs! / s.madStd!, 9);
    expect(gradeDynamicRange(s.dynamicRange)).toBe('excellent');
    expect(s.nNonFinite).toBeGreaterThan(0);
  }, 120_000);

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
