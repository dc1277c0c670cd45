// The statistics of a whole simulated 4096² image through the renderer: the robust noise against the true
// noise, and the QA grade. Kept apart from stats.test.ts (in `npm test`, not in the fits-stats mutation
// module's tests): writing and rendering 16 M pixels takes seconds, which a mutation run would pay per mutant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeDynamicRange, renderThumbnail } from '../../../lib/fits/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-stats-large-')));
afterAll(() => removeTmpDir(dir));

describe('statistics of a large image', () => {
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
});
