// PB-corrected inputs (kind: pbcor) are weighted by A² as well: S = Σ A² I′/σ² ÷ Σ A²/σ². Built from the
// simulator's pbcor tiles (the same noise and sources divided by each tile's true beam), the mosaic equals
// the one built from the flat-noise tiles, and so does the weight map. Two looks at one pointing on a canvas
// whose pixels are the tiles' pixels, so both estimators see the beam at the same sky positions.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMosaicBuild } from '../../../lib/mosaic/run.js';
import { manifestFromTiles, writeMosaicTiles } from '../../../lib/sim/mosaic-tiles.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { readFits, writeManifest } from './mbuild-helpers.js';

let dir: string;
beforeAll(() => {
  dir = makeTmpDir('mbuild-pbcor-');
});
afterAll(() => removeTmpDir(dir));

async function buildKind(
  kind: 'image' | 'pbcor',
): Promise<{ s: Float32Array | Float64Array; w: Float32Array | Float64Array }> {
  const tiles = writeMosaicTiles({
    dir: path.join(dir, kind),
    n: 2,
    nx: 300,
    samePointing: true,
    kind,
    sources: [{ ra: 121.2, dec: 55.3, fluxJy: 1 }],
    seed: 12,
  });
  const out = path.join(dir, `out-${kind}`);
  const grid = {
    frame: 'FK5/2000',
    projection: 'SIN' as const,
    center: tiles[0].pointing,
    pixel_arcsec: tiles[0].cellArcsec,
    nx: 301, // CRPIX 151 on both: canvas pixel (x, y) is tile pixel (x, y)
    ny: 301,
  };
  const m = manifestFromTiles(tiles, { outputDir: out, grid, input: () => ({ kind }) });
  const r = await runMosaicBuild(writeManifest(m, path.join(out, 'm.json')), m.result_path);
  expect(r.result.error).toBeNull();
  return { s: readFits(m.outputs.fits).pixels, w: readFits(m.outputs.weights).pixels };
}

describe('PB-corrected inputs', () => {
  it('give the mosaic and the weights of the flat-noise inputs they were made from', async () => {
    const img = await buildKind('image');
    const pb = await buildKind('pbcor');
    expect(pb.s.length).toBe(img.s.length);
    let worst = 0;
    let worstNoise = 0;
    let covered = 0;
    for (let i = 0; i < img.s.length; i++) {
      expect(Number.isNaN(pb.s[i])).toBe(Number.isNaN(img.s[i]));
      expect(pb.w[i]).toBe(img.w[i]);
      if (Number.isNaN(img.s[i])) continue;
      covered++;
      const d = Math.abs(pb.s[i] - img.s[i]);
      if (Math.abs(img.s[i]) < 0.01) worstNoise = Math.max(worstNoise, d);
      else worst = Math.max(worst, d / Math.abs(img.s[i]));
    }
    expect(covered).toBeGreaterThan(40_000);
    // The builder's beam (8 drift samples) and the simulator's (64) differ by < 3e-4 in A, which the two
    // estimators weigh differently (A_b·A_t against A_b²): a relative difference below 3e-4/A.
    expect(worstNoise).toBeLessThan(1e-5);
    expect(worst).toBeLessThan(2e-3);
  });
});
