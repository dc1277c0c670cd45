// mosaic acceptance 13: mosaic QA against the original's defects, on mosaic and weight FITS written here.
import { afterAll, describe, expect, it } from 'vitest';
import { gradeMosaic, type MeasureOptions } from '../../../lib/mosaic/qa/index.js';
import { writeMosaicPair } from '../../helpers/mosaic-fits.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

const dir = makeTmpDir('mqa-');
afterAll(() => removeTmpDir(dir));

const base: MeasureOptions = {
  innerWeightFraction: 0.5,
  sampleMax: 2e6,
  maxPixels: 4e8,
  references: [],
  footprint: { centers: [], radiusDeg: 0 },
};

describe('mosaic acceptance 13: QA against the original defects', () => {
  it('three sources at peak/noise ≈ 1000 give DR ≥ 900 (the original gave 4.7) and PASS', () => {
    const f = writeMosaicPair({
      dir,
      name: 'three',
      nx: 400,
      ny: 200,
      noiseJy: 0.001,
      sources: [
        { x: 100.3, y: 60.2, fluxJy: 1.0 },
        { x: 200, y: 150, fluxJy: 0.7 },
        { x: 320.6, y: 90.4, fluxJy: 0.5 },
      ],
    });
    const qa = gradeMosaic(f.fits, f.weights, base);
    expect(qa.metrics.noiseJy).toBeGreaterThan(0.00095);
    expect(qa.metrics.noiseJy).toBeLessThan(0.00106);
    expect(qa.metrics.dynamicRange).toBeGreaterThanOrEqual(900);
    expect(qa.metrics.dynamicRange).toBeLessThan(1100);
    expect(['good', 'excellent']).toContain(qa.grade);
    expect(qa.metrics.noiseRatio).toBeGreaterThan(0.95);
    expect(qa.metrics.noiseRatio).toBeLessThan(1.06);
    expect(qa.metrics.nanFraction).toBe(0);
    expect(qa.metrics.banding).toBeLessThan(0.1);
    expect(qa.status).toBe('pass');
    // Not measured, and said so: no reference source and no footprint.
    const nm = qa.reasons.filter((r) => r.level === 'not_measured').map((r) => r.rule);
    expect(nm).toEqual(expect.arrayContaining(['reference_sources', 'coverage_fraction']));
  });

  it('a noise-only field grades poor and FAILs', () => {
    const f = writeMosaicPair({ dir, name: 'noise', nx: 300, ny: 200, noiseJy: 0.001, seed: 3 });
    const qa = gradeMosaic(f.fits, f.weights, base);
    expect(qa.metrics.dynamicRange).toBeGreaterThan(3);
    expect(qa.metrics.dynamicRange).toBeLessThan(10);
    expect(qa.grade).toBe('poor');
    expect(qa.status).toBe('fail');
    expect(qa.reasons).toContainEqual(expect.objectContaining({ rule: 'grade', level: 'fail' }));
  });

  it('an injected reference source is found within 0.2 px at flux ratio 1.00 ± 0.05', () => {
    const src = { x: 151.37, y: 88.71, fluxJy: 0.5 };
    const f = writeMosaicPair({
      dir,
      name: 'ref',
      nx: 300,
      ny: 200,
      noiseJy: 0.001,
      sources: [src],
      seed: 5,
    });
    const sky = f.skyOf(src.x, src.y);
    const qa = gradeMosaic(f.fits, f.weights, {
      ...base,
      references: [{ name: 'R1', raDeg: sky.raDeg, decDeg: sky.decDeg, s14Jy: 0.5, alpha: 0 }],
    });
    const r = qa.metrics.references[0];
    expect(r.used).toBe(true);
    expect(r.offsetPx).toBeLessThan(0.2);
    expect(r.fluxRatio).toBeGreaterThan(0.95);
    expect(r.fluxRatio).toBeLessThan(1.05);
    expect(qa.metrics.nRef).toBe(1);
    expect(qa.metrics.offsetArcsecMedian).toBeCloseTo(r.offsetPx! * 10, 6);
    expect(qa.reasons.some((x) => x.rule.startsWith('reference'))).toBe(false);
  });

  it('a reference source 1 beam off FAILs the astrometry; one at 60 % of its flux FAILs the flux', () => {
    const src = { x: 150, y: 100, fluxJy: 0.5 };
    const f = writeMosaicPair({
      dir,
      name: 'off',
      nx: 300,
      ny: 200,
      noiseJy: 0.001,
      sources: [src],
      seed: 6,
    });
    const shifted = f.skyOf(src.x + 3.6, src.y);
    const off = gradeMosaic(f.fits, f.weights, {
      ...base,
      references: [{ name: 'R', raDeg: shifted.raDeg, decDeg: shifted.decDeg, s14Jy: 0.5, alpha: 0 }],
    });
    expect(off.metrics.offsetBeamsMedian).toBeGreaterThan(0.9);
    expect(off.reasons).toContainEqual(
      expect.objectContaining({ rule: 'reference_offset_beams', level: 'fail' }),
    );
    const at = f.skyOf(src.x, src.y);
    const faint = gradeMosaic(f.fits, f.weights, {
      ...base,
      references: [{ name: 'R', raDeg: at.raDeg, decDeg: at.decDeg, s14Jy: 0.5 / 0.6, alpha: 0 }],
    });
    expect(faint.metrics.fluxRatioMedian).toBeCloseTo(0.6, 1);
    expect(faint.reasons).toContainEqual(
      expect.objectContaining({ rule: 'reference_flux_ratio', level: 'fail' }),
    );
    expect(faint.status).toBe('fail');
  });

  it('weights that understate the noise 2.5× FAIL noise_ratio', () => {
    const f = writeMosaicPair({
      dir,
      name: 'under',
      nx: 300,
      ny: 200,
      noiseJy: 0.001,
      claimedNoiseJy: 0.0004,
      effNoiseJy: 0.0004,
      sources: [{ x: 100, y: 100, fluxJy: 1 }],
    });
    const qa = gradeMosaic(f.fits, f.weights, base);
    expect(qa.metrics.noiseExpectedJy).toBeCloseTo(0.0004, 6);
    expect(qa.metrics.noiseRatio).toBeGreaterThan(2.3);
    expect(qa.metrics.noiseRatio).toBeLessThan(2.7);
    expect(qa.reasons).toContainEqual(expect.objectContaining({ rule: 'noise_ratio', level: 'fail' }));
    expect(qa.status).toBe('fail');
  });
});

describe('mosaic QA measurement', () => {
  it('inner is W ≥ fraction · max W: the low-weight edge is left out of the noise, NaN counted inside only', () => {
    // Left half: full weight, σ 1 mJy; right half: a quarter of the weight (σ claimed and true 2 mJy).
    const f = writeMosaicPair({
      dir,
      name: 'halves',
      nx: 200,
      ny: 100,
      noiseJy: 0.001,
      claimedNoiseJy: (x) => (x < 100 ? 0.001 : 0.002),
      hole: (x, y) => x < 10 && y < 10,
      sources: [{ x: 150, y: 50, fluxJy: 5 }],
    });
    const qa = gradeMosaic(f.fits, f.weights, base);
    expect(qa.metrics.innerPixels).toBe(100 * 100);
    expect(qa.metrics.nanFraction).toBeCloseTo(100 / 10000, 10);
    expect(qa.reasons).toContainEqual(expect.objectContaining({ rule: 'nan_fraction', level: 'warn' }));
    // The bright source sits in the low-weight half: not the inner peak.
    expect(qa.metrics.peakJy).toBeLessThan(0.01);
    expect(qa.metrics.noiseExpectedJy).toBeCloseTo(0.001, 6);
  });

  it('coverage of the planned footprint: a missing tile shows, a full one is 1', () => {
    const full = writeMosaicPair({ dir, name: 'cov', nx: 200, ny: 200, noiseJy: 0.001, pixelArcsec: 36 });
    const center = full.skyOf(99.5, 99.5);
    const fp = { centers: [center], radiusDeg: 0.5 };
    const a = gradeMosaic(full.fits, full.weights, { ...base, footprint: fp });
    expect(a.metrics.coverageFraction).toBe(1);
    const holed = writeMosaicPair({
      dir,
      name: 'cov2',
      nx: 200,
      ny: 200,
      noiseJy: 0.001,
      pixelArcsec: 36,
      covered: (x) => x < 100,
    });
    const b = gradeMosaic(holed.fits, holed.weights, { ...base, footprint: fp });
    expect(b.metrics.coverageFraction).toBeGreaterThan(0.45);
    expect(b.metrics.coverageFraction).toBeLessThan(0.55);
    expect(b.reasons).toContainEqual(expect.objectContaining({ rule: 'coverage_fraction', level: 'fail' }));
  });

  it('row banding of 0.5 σ is caught; clean noise is not', () => {
    const f = writeMosaicPair({
      dir,
      name: 'band',
      nx: 200,
      ny: 200,
      noiseJy: 0.001,
      rowOffset: (y) => (y % 2 === 0 ? 0.0005 : -0.0005),
    });
    const qa = gradeMosaic(f.fits, f.weights, base);
    expect(qa.metrics.banding).toBeGreaterThan(0.1);
    expect(qa.reasons).toContainEqual(expect.objectContaining({ rule: 'banding', level: 'warn' }));
  });

  it('builder agreement: EFFNOISE 10 % off the weight map warns; absent it is not measured', () => {
    const f = writeMosaicPair({ dir, name: 'eff', nx: 100, ny: 100, noiseJy: 0.001, effNoiseJy: 0.0011 });
    const qa = gradeMosaic(f.fits, f.weights, base);
    expect(qa.reasons).toContainEqual(expect.objectContaining({ rule: 'builder_agreement', level: 'warn' }));
    const g = writeMosaicPair({ dir, name: 'eff2', nx: 100, ny: 100, noiseJy: 0.001, effNoiseJy: null });
    const qb = gradeMosaic(g.fits, g.weights, base);
    expect(qb.reasons).toContainEqual(
      expect.objectContaining({ rule: 'builder_agreement', level: 'not_measured' }),
    );
  });

  it('no finite inner pixel: status and grade unknown', () => {
    const f = writeMosaicPair({ dir, name: 'empty', nx: 50, ny: 50, noiseJy: 0.001, covered: () => false });
    const qa = gradeMosaic(f.fits, f.weights, base);
    expect(qa.status).toBe('unknown');
    expect(qa.grade).toBe('unknown');
  });

  it('samples at most sampleMax values, deterministically', () => {
    const f = writeMosaicPair({ dir, name: 'samp', nx: 300, ny: 300, noiseJy: 0.001 });
    const a = gradeMosaic(f.fits, f.weights, { ...base, sampleMax: 1000 });
    const b = gradeMosaic(f.fits, f.weights, { ...base, sampleMax: 1000 });
    expect(a.metrics.noiseJy).toBe(b.metrics.noiseJy);
    expect(a.metrics.noiseJy).toBeGreaterThan(0.0009);
    expect(a.metrics.noiseJy).toBeLessThan(0.0011);
  });

  it('a weight map of another size is refused', () => {
    const a = writeMosaicPair({ dir, name: 'sa', nx: 60, ny: 50, noiseJy: 0.001 });
    const b = writeMosaicPair({ dir, name: 'sb', nx: 50, ny: 60, noiseJy: 0.001 });
    expect(() => gradeMosaic(a.fits, b.weights, base)).toThrow(/not its weight map/);
  });
});
