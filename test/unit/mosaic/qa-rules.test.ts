// Each mosaic QA rule at its boundary: equal to the threshold is not a finding, just past it is.
import { describe, expect, it } from 'vitest';
import { judge, type QaMetrics } from '../../../lib/mosaic/qa/rules.js';
import { parseReferenceCsv, expectedFluxJy, fitPeak, makeWindow } from '../../../lib/mosaic/qa/references.js';

/** A clean measurement: every rule measured and well inside its thresholds, DR 500 (good). */
function clean(over: Partial<QaMetrics> = {}): QaMetrics {
  return {
    innerPixels: 1000,
    innerFinite: 1000,
    noiseJy: 0.001,
    noiseExpectedJy: 0.001,
    noiseRatio: 1,
    peakJy: 0.5,
    dynamicRange: 500,
    coverageFraction: 1,
    nanFraction: 0,
    banding: 0.01,
    nRef: 1,
    offsetBeamsMedian: 0.05,
    offsetArcsecMedian: 1,
    fluxRatioMedian: 1,
    builderNoiseJy: 0.001,
    notMeasured: {},
    ...over,
  };
}

const levelOf = (m: QaMetrics, rule: string) => judge(m).reasons.find((r) => r.rule === rule)?.level ?? 'ok';

describe('mosaic QA rules at their boundaries', () => {
  it('a clean measurement passes with no reasons', () => {
    expect(judge(clean())).toEqual({ status: 'pass', grade: 'good', reasons: [] });
  });

  it.each([
    ['noise_ratio', { noiseRatio: 1.3 }, 'ok'],
    ['noise_ratio', { noiseRatio: 1.3001 }, 'warn'],
    ['noise_ratio', { noiseRatio: 2.0 }, 'warn'],
    ['noise_ratio', { noiseRatio: 2.0001 }, 'fail'],
    ['coverage_fraction', { coverageFraction: 0.95 }, 'ok'],
    ['coverage_fraction', { coverageFraction: 0.9499 }, 'warn'],
    ['coverage_fraction', { coverageFraction: 0.8 }, 'warn'],
    ['coverage_fraction', { coverageFraction: 0.7999 }, 'fail'],
    ['nan_fraction', { nanFraction: 0.001 }, 'ok'],
    ['nan_fraction', { nanFraction: 0.0011 }, 'warn'],
    ['nan_fraction', { nanFraction: 0.01 }, 'warn'],
    ['nan_fraction', { nanFraction: 0.0101 }, 'fail'],
    ['banding', { banding: 0.1 }, 'ok'],
    ['banding', { banding: 0.1001 }, 'warn'],
    ['banding', { banding: 50 }, 'warn'],
    ['reference_offset_beams', { offsetBeamsMedian: 0.2 }, 'ok'],
    ['reference_offset_beams', { offsetBeamsMedian: 0.2001 }, 'warn'],
    ['reference_offset_beams', { offsetBeamsMedian: 0.5 }, 'warn'],
    ['reference_offset_beams', { offsetBeamsMedian: 0.5001 }, 'fail'],
    ['reference_flux_ratio', { fluxRatioMedian: 0.86 }, 'ok'],
    ['reference_flux_ratio', { fluxRatioMedian: 1.14 }, 'ok'],
    ['reference_flux_ratio', { fluxRatioMedian: 0.84 }, 'warn'],
    ['reference_flux_ratio', { fluxRatioMedian: 1.16 }, 'warn'],
    ['reference_flux_ratio', { fluxRatioMedian: 0.71 }, 'warn'],
    ['reference_flux_ratio', { fluxRatioMedian: 0.69 }, 'fail'],
    ['reference_flux_ratio', { fluxRatioMedian: 1.31 }, 'fail'],
    ['builder_agreement', { builderNoiseJy: 0.00105 }, 'ok'],
    ['builder_agreement', { builderNoiseJy: 0.001051 }, 'warn'],
    ['builder_agreement', { builderNoiseJy: 0.000949 }, 'warn'],
    ['grade', { dynamicRange: 100.01 }, 'ok'],
    ['grade', { dynamicRange: 100 }, 'warn'],
    ['grade', { dynamicRange: 10.01 }, 'warn'],
    ['grade', { dynamicRange: 10 }, 'fail'],
  ] as const)('%s with %o → %s', (rule, over, want) => {
    const m = clean(over);
    expect(levelOf(m, rule)).toBe(want);
    expect(judge(m).status).toBe(want === 'ok' ? 'pass' : want);
  });

  it('the grade follows the image rule: > 1000 excellent, > 100 good, > 10 marginal, else poor', () => {
    expect(judge(clean({ dynamicRange: 1000.5 })).grade).toBe('excellent');
    expect(judge(clean({ dynamicRange: 1000 })).grade).toBe('good');
    expect(judge(clean({ dynamicRange: 50 })).grade).toBe('marginal');
    expect(judge(clean({ dynamicRange: 50 })).status).toBe('warn');
    expect(judge(clean({ dynamicRange: 4.7 })).grade).toBe('poor');
  });

  it('fail wins over warn; a not-measured check is listed and never a finding', () => {
    const v = judge(clean({ noiseRatio: 1.5, coverageFraction: 0.5 }));
    expect(v.status).toBe('fail');
    expect(v.reasons.map((r) => r.level).sort()).toEqual(['fail', 'warn']);
    const nm = judge(
      clean({
        nRef: 0,
        offsetBeamsMedian: null,
        fluxRatioMedian: null,
        notMeasured: { reference_sources: 'none' },
      }),
    );
    expect(nm.status).toBe('pass');
    expect(nm.reasons).toEqual([
      { rule: 'reference_sources', value: null, threshold: null, level: 'not_measured', detail: 'none' },
    ]);
  });

  it('no finite inner pixel is unknown, whatever else', () => {
    expect(judge(clean({ innerFinite: 0, noiseRatio: 5 }))).toMatchObject({
      status: 'unknown',
      grade: 'unknown',
    });
  });
});

describe('reference sources', () => {
  it('parses name,ra,dec,S1.4[,alpha], skips comments and the header, and names a bad line', () => {
    const refs = parseReferenceCsv(
      '# refs\nname,ra_deg,dec_deg,s14_jy,alpha\nA,10,20,1.5,-0.7\nB,359.9,-30,2\n',
    );
    expect(refs).toEqual([
      { name: 'A', raDeg: 10, decDeg: 20, s14Jy: 1.5, alpha: -0.7 },
      { name: 'B', raDeg: 359.9, decDeg: -30, s14Jy: 2, alpha: 0 },
    ]);
    expect(() => parseReferenceCsv('A,10,20,1\nB,400,0,1\n', 'refs.csv')).toThrow(/refs\.csv:2/);
    expect(() => parseReferenceCsv('A,10,20,-1\n')).toThrow(/:1/);
  });

  it('scales the 1.4 GHz flux by the spectral index', () => {
    const s = { name: 'A', raDeg: 0, decDeg: 0, s14Jy: 1, alpha: -0.7 };
    expect(expectedFluxJy(s, 2.8e9)).toBeCloseTo(Math.pow(2, -0.7), 12);
    expect(expectedFluxJy(s, null)).toBe(1);
  });

  it('the log-quadratic fit recovers a sampled Gaussian exactly', () => {
    const src = { name: 'G', raDeg: 0, decDeg: 0, s14Jy: 1, alpha: 0 };
    const w = makeWindow(src, 10.3, 9.6, 6);
    const sig = 1.7;
    for (let j = 0; j < w.side; j++)
      for (let i = 0; i < w.side; i++) {
        const d2 = (w.x0 + i - 10.3) ** 2 + (w.y0 + j - 9.6) ** 2;
        w.values[j * w.side + i] = 2 * Math.exp(-d2 / (2 * sig * sig));
      }
    const fit = fitPeak(w, 6)!;
    expect(fit.x).toBeCloseTo(10.3, 4);
    expect(fit.y).toBeCloseTo(9.6, 4);
    expect(fit.peak).toBeCloseTo(2, 4);
  });
});
