// thumbnailWorker.mosaicQa: the defaults, a relative reference file resolved against the config's folder,
// and a fail threshold looser than its warn threshold refused with the key path.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { thresholdsOf } from '../../../daemons/thumbnail-worker/mosaic-job.js';
import { DEFAULT_THRESHOLDS } from '../../../lib/mosaic/qa/index.js';

const base = { dataDir: '/data', databases: { state: '/data/s.sqlite3', pipeline: '/data/p.sqlite3' } };

describe('thumbnailWorker.mosaicQa', () => {
  it('defaults to the documented thresholds', () => {
    const q = parseConfig(base, '/etc/contimg').thumbnailWorker.mosaicQa;
    expect(q).toEqual({
      innerWeightFraction: 0.5,
      sampleMax: 2_000_000,
      noiseRatioWarn: 1.3,
      noiseRatioFail: 2.0,
      coverageWarn: 0.95,
      coverageFail: 0.8,
      offsetWarnBeams: 0.2,
      offsetFailBeams: 0.5,
      fluxWarn: 0.15,
      fluxFail: 0.3,
      mosaicMaxDim: 2048,
      maxPixels: 400_000_000,
      timeoutS: 1800,
    });
    expect(thresholdsOf(q)).toEqual(DEFAULT_THRESHOLDS);
  });

  it('resolves referenceSourcesFile against the config folder', () => {
    const cfg = parseConfig(
      { ...base, thumbnailWorker: { mosaicQa: { referenceSourcesFile: 'refs.csv' } } },
      '/etc/contimg',
    );
    expect(cfg.thumbnailWorker.mosaicQa.referenceSourcesFile).toBe('/etc/contimg/refs.csv');
  });

  it.each([
    [{ noiseRatioWarn: 2.5 }, /noiseRatioFail must be ≥ noiseRatioWarn/],
    [{ coverageFail: 0.99 }, /coverageFail must be ≤ coverageWarn/],
    [{ innerWeightFraction: 0 }, /thumbnailWorker\.mosaicQa\.innerWeightFraction/],
    [{ mosaicMaxDim: 32 }, /thumbnailWorker\.mosaicQa\.mosaicMaxDim/],
    [{ typo: 1 }, /thumbnailWorker\.mosaicQa/],
  ])('refuses %o', (mosaicQa, message) => {
    expect(() => parseConfig({ ...base, thumbnailWorker: { mosaicQa } }, '/etc/contimg')).toThrow(message);
  });
});
