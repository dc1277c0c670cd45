// A strip crossing RA 0° (every DSA-110 day does): the same three tiles and source built at RA 120° and
// across 0°/360° give the same coverage, effective noise and recovered flux; no seam at 0°.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MosaicResult } from '../../../lib/mosaic/manifest.js';
import { runMosaicBuild } from '../../../lib/mosaic/run.js';
import { gridWcs, worldToPixel } from '../../../lib/mosaic/wcs.js';
import { manifestFromTiles, writeMosaicTiles } from '../../../lib/sim/mosaic-tiles.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { readFits, writeManifest } from './mbuild-helpers.js';

let dir: string;
beforeAll(() => {
  dir = makeTmpDir('mbuild-wrap-');
});
afterAll(() => removeTmpDir(dir));

/** Three tiles from ra0, a 1 Jy source 1.8° of RA after ra0; the result and the source's aperture flux. */
async function strip(ra0: number): Promise<{ res: MosaicResult; flux: number; nanAt0: number }> {
  const src = { ra: (ra0 + 1.8) % 360, dec: 55.57, fluxJy: 1 };
  const tiles = writeMosaicTiles({
    dir: path.join(dir, `in-${ra0}`),
    n: 3,
    nx: 400,
    ra0Deg: ra0,
    sources: [src],
    seed: 8,
  });
  const out = path.join(dir, `out-${ra0}`);
  const m = manifestFromTiles(tiles, { outputDir: out, interpolation: 'bilinear' });
  const r = await runMosaicBuild(writeManifest(m, path.join(out, 'm.json')), m.result_path);
  expect(r.result.error).toBeNull();
  const img = readFits(m.outputs.fits);
  const g = gridWcs(m.grid);
  const c = worldToPixel(g, src.ra, src.dec, new Float64Array(2));
  let sum = 0;
  for (let y = Math.round(c[1]) - 8; y <= Math.round(c[1]) + 8; y++)
    for (let x = Math.round(c[0]) - 8; x <= Math.round(c[0]) + 8; x++)
      if (Math.hypot(x - c[0], y - c[1]) <= 7) sum += img.pixels[y * img.nx + x];
  // NaN pixels along the canvas column through RA = ra0 + 1.291 (0° in the wrapped strip), inside the strip
  const col = Math.round(worldToPixel(g, (ra0 + 1.291) % 360, 55.57, new Float64Array(2))[0]);
  let nanAt0 = 0;
  for (let y = Math.round(img.ny * 0.3); y < img.ny * 0.7; y++)
    if (Number.isNaN(img.pixels[y * img.nx + col])) nanAt0++;
  return { res: r.result, flux: sum / (2 * Math.PI * (3 / 2.3548200450309493) ** 2), nanAt0 };
}

describe('a strip across RA 0°', () => {
  it('builds as the same strip at RA 120° does: coverage, noise, flux, no seam at 0°', async () => {
    const wrapped = await strip(358.709); // pointings 358.709°, 0.000°, 1.291°
    const plain = await strip(120);
    expect(wrapped.res.ok).toBe(true);
    expect(wrapped.res.n_used).toBe(3);
    expect(wrapped.res.grid!.center.ra).toBeCloseTo(0, 6);
    expect(wrapped.nanAt0).toBe(0);
    // the same to a few canvas pixels (the pointings' RA round differently)
    expect(Math.abs(wrapped.res.stats!.coverage_sq_deg / plain.res.stats!.coverage_sq_deg - 1)).toBeLessThan(
      1e-3,
    );
    expect(
      Math.abs(wrapped.res.stats!.effective_noise_jy! / plain.res.stats!.effective_noise_jy! - 1),
    ).toBeLessThan(1e-3);
    expect(Math.abs(wrapped.flux - 1)).toBeLessThan(0.03);
    expect(Math.abs(plain.flux - 1)).toBeLessThan(0.03);
  });
});
