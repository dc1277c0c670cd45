// The grading task a render thread runs (daemons/thumbnail-worker/mosaic-task.ts), called directly.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMosaic, type MosaicRequest } from '../../../daemons/thumbnail-worker/mosaic-task.js';
import { outputSize } from '../../../lib/fits/downsample.js';
import { DEFAULT_THRESHOLDS } from '../../../lib/mosaic/qa/index.js';
import { writeMosaicPair } from '../../helpers/mosaic-fits.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { decodePng } from '../fits/helpers.js';

const dir = makeTmpDir('mqa-task-');
afterAll(() => removeTmpDir(dir));

function request(fits: string, weights: string, over: Partial<MosaicRequest> = {}): MosaicRequest {
  return {
    kind: 'mosaic',
    mosaicPath: fits,
    weightsPath: weights,
    outputDir: path.join(dir, 'png'),
    maxDim: 2048,
    maxPixels: 4e8,
    stripBytes: 1 << 20,
    pngLevel: 6,
    innerWeightFraction: 0.5,
    sampleMax: 2e6,
    thresholds: DEFAULT_THRESHOLDS,
    calibrators: [],
    referenceSourcesFile: null,
    footprint: { centers: [], radiusDeg: 0 },
    beamDegFallback: null,
    ...over,
  };
}

describe('mosaic grading task', () => {
  it('keeps the aspect ratio up to maxDim/64 : 1; a longer strip keeps a 64-px short side', () => {
    expect(outputSize(3000, 900, 2048, 64)).toEqual({ width: 2048, height: 614 });
    expect(outputSize(6000, 100, 2048, 64)).toEqual({ width: 2048, height: 64 });
    expect(outputSize(6000, 40, 2048, 64)).toEqual({ width: 2048, height: 40 });
    expect(outputSize(1000, 500, 2048, 64)).toEqual({ width: 1000, height: 500 });
    const f = writeMosaicPair({ dir, name: 'long', nx: 6000, ny: 100, noiseJy: 0.001 });
    const out = runMosaic(request(f.fits, f.weights));
    const png = decodePng(fs.readFileSync(out.png!.path));
    expect([png.width, png.height]).toEqual([2048, 64]);
    expect(out.qa.metrics.nx).toBe(6000);
  });

  it('a reference file adds sources; an unreadable one is noted and the grading goes on', () => {
    const src = { x: 100.4, y: 60.2, fluxJy: 0.3 };
    const f = writeMosaicPair({ dir, name: 'refs', nx: 200, ny: 120, noiseJy: 0.001, sources: [src] });
    const sky = f.skyOf(src.x, src.y);
    const file = path.join(dir, 'refs.csv');
    fs.writeFileSync(file, `name,ra_deg,dec_deg,s14_jy,alpha\nS,${sky.raDeg},${sky.decDeg},0.3,-0.7\n`);
    const out = runMosaic(request(f.fits, f.weights, { referenceSourcesFile: file }));
    expect(out.qa.metrics.nRef).toBe(1);
    // RESTFRQ 1.4 GHz: the spectral index changes nothing.
    expect(out.qa.metrics.fluxRatioMedian).toBeGreaterThan(0.93);
    expect(out.qa.metrics.fluxRatioMedian).toBeLessThan(1.07);
    const missing = runMosaic(
      request(f.fits, f.weights, { referenceSourcesFile: path.join(dir, 'nope.csv') }),
    );
    expect(missing.qa.reasons).toContainEqual(
      expect.objectContaining({ rule: 'reference_file', level: 'not_measured' }),
    );
    expect(missing.png).not.toBeNull();
  });

  it('a mosaic with no finite pixel gets no PNG and grades unknown', () => {
    const f = writeMosaicPair({ dir, name: 'blank', nx: 50, ny: 40, noiseJy: 0.001, covered: () => false });
    const out = runMosaic(request(f.fits, f.weights));
    expect(out.png).toBeNull();
    expect(out.qa.status).toBe('unknown');
  });
});
