// mosaic acceptance tests 6, 7 and 8 (the builder's part) on real files nobody on this project wrote: an AIPS SIN map in
// B1950 (BITPIX 16), a 4-D line cube, and a Parkes AZP map with NaN edges. The inputs are read-only.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openImage, readPlane } from '../../../lib/fits/plane.js';
import { makeBeam } from '../../../lib/mosaic/beam.js';
import { parseResult, type MosaicGrid } from '../../../lib/mosaic/manifest.js';
import { runMosaicBuild } from '../../../lib/mosaic/run.js';
import { exactAt } from '../../../lib/mosaic/tile-map.js';
import {
  gridWcs,
  pixelToWorld,
  wcsFromHeader,
  worldToPixel,
  type CelestialWcs,
} from '../../../lib/mosaic/wcs.js';
import { runCli } from '../../helpers/cli.js';
import { makeTmpDir, removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';
import { countFinite, inputFor, manifestFor, partialsIn, readFits, writeManifest } from './mbuild-helpers.js';

const fits = (name: string): string => path.join(SHARED_DATA, 'fits', name);

let dir: string;
beforeEach(() => {
  dir = makeTmpDir('mbuild-real-');
});
afterEach(() => removeTmpDir(dir));

function fileImage(p: string): {
  wcs: CelestialWcs;
  nx: number;
  ny: number;
  pixels: Float32Array | Float64Array;
} {
  const img = openImage(p);
  try {
    return { wcs: wcsFromHeader(img.hdu.header), nx: img.nx, ny: img.ny, pixels: readPlane(img, 0) };
  } finally {
    img.close();
  }
}

/** Sub-pixel peak: the brightest finite pixel refined by a parabola through its neighbours on each axis. */
function peakOf(p: ArrayLike<number>, nx: number, ny: number): [number, number] {
  let best = -Infinity;
  let k = -1;
  for (let i = 0; i < nx * ny; i++) if (p[i] > best) [best, k] = [p[i], i];
  const [x, y] = [k % nx, Math.floor(k / nx)];
  const refine = (a: number, b: number, c: number): number => (a - c) / (2 * (a - 2 * b + c));
  return [x + refine(p[k - 1], p[k], p[k + 1]), y + refine(p[k - nx], p[k], p[k + nx])];
}

/** A tiny dish: the beam is flat (A > 0.999) over these small maps, so only the geometry is tested. */
const FLAT_DISH_M = 0.05;

describe('mosaic acceptance 6: ngc1316r.fit (SIN, B1950, BITPIX 16)', () => {
  const file = fits('ngc1316r.fit');
  const src = fileImage(file);
  const centre = pixelToWorld(src.wcs, (src.nx - 1) / 2, (src.ny - 1) / 2, new Float64Array(2));
  const pointing = { ra: centre[0], dec: centre[1] };
  // A canvas in the file's own frame, 7″ pixels, centred a fraction of a pixel off the map's centre so the
  // two pixel grids do not coincide.
  const grid = (frame: string): MosaicGrid => ({
    frame,
    projection: 'TAN',
    center: {
      ra: centre[0] + (0.37 * 7) / 3600 / Math.cos((centre[1] * Math.PI) / 180),
      dec: centre[1] + (0.23 * 7) / 3600,
    },
    pixel_arcsec: 7,
    nx: 470,
    ny: 330,
  });

  it('alone, all 132,000 pixels land (± 1 %) and the peak moves < 0.5 px', async () => {
    const before = fs.statSync(file, { bigint: true });
    const m = manifestFor(
      [inputFor(file, { pointing, dishM: FLAT_DISH_M })],
      grid('FK4/1950'),
      path.join(dir, 'out'),
      {
        interpolation: 'bilinear',
      },
    );
    const r = await runMosaicBuild(writeManifest(m, path.join(dir, 'm.json')), m.result_path);
    expect(r.result.error).toBeNull();
    expect(r.exitCode).toBe(0);
    const out = readFits(m.outputs.fits);
    const finite = countFinite(out.pixels);
    expect(src.nx * src.ny).toBe(132_000);
    expect(Math.abs(finite / 132_000 - 1)).toBeLessThan(0.01);
    expect(out.values.get('RADESYS')).toBe('FK4');
    expect(out.values.get('EQUINOX')).toBe(1950);
    // the peak: from the input's sub-pixel peak through its WCS onto the canvas, against the canvas's own peak
    const [px, py] = peakOf(src.pixels, src.nx, src.ny);
    const sky = pixelToWorld(src.wcs, px, py, new Float64Array(2));
    const want = worldToPixel(gridWcs(m.grid), sky[0], sky[1], new Float64Array(2));
    const got = peakOf(out.pixels, out.nx, out.ny);
    expect(Math.hypot(got[0] - want[0], got[1] - want[1])).toBeLessThan(0.5);
    const after = fs.statSync(file, { bigint: true });
    expect([after.size, after.mtimeNs, after.ino]).toEqual([before.size, before.mtimeNs, before.ino]);
  });

  it('on a J2000 grid: exit 5 frame_mismatch (the builder never converts frames), nothing written', async () => {
    const m = manifestFor(
      [inputFor(file, { pointing, dishM: FLAT_DISH_M })],
      grid('FK5/2000'),
      path.join(dir, 'out'),
    );
    const manifest = writeManifest(m, path.join(dir, 'm.json'));
    const r = await runCli(['mosaic-build', '--manifest', manifest, '--result', m.result_path], {
      built: true,
    });
    expect(r.code).toBe(5);
    const res = parseResult(fs.readFileSync(m.result_path, 'utf8'));
    expect(res.ok).toBe(false);
    expect(res.error_code).toBe('frame_mismatch');
    expect(res.error).toMatch(/FK4\/1950.*FK5\/2000/);
    expect(fs.existsSync(m.outputs.fits)).toBe(false);
    expect(partialsIn(path.join(dir, 'out'))).toEqual([]);
  });
});

describe('mosaic acceptance 7: gildas-example_cube.fits (4-D, 7 channels)', () => {
  it('exits 5 with not_continuum, writes no mosaic and leaves no .partial', async () => {
    const file = fits('gildas-example_cube.fits');
    const pointing = { ra: 52.23158333333, dec: 31.24363888889 };
    const out = path.join(dir, 'out');
    const m = manifestFor(
      [inputFor(file, { pointing })],
      { frame: 'FK5/2000', projection: 'SIN', center: pointing, pixel_arcsec: 0.12, nx: 10, ny: 10 },
      out,
    );
    const manifest = writeManifest(m, path.join(out, 'm.json'));
    const r = await runCli(['mosaic-build', '--manifest', manifest, '--result', m.result_path], {
      built: true,
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not_continuum/);
    const res = parseResult(fs.readFileSync(m.result_path, 'utf8'));
    expect(res).toMatchObject({ ok: false, error_code: 'not_continuum', outputs: null, stats: null });
    expect(res.error).toMatch(/axis 3 \(VRAD\) has 7 pixels/);
    expect(fs.existsSync(m.outputs.fits)).toBe(false);
    expect(fs.existsSync(m.outputs.weights)).toBe(false);
    expect(partialsIn(out)).toEqual([]);
  });
});

describe('mosaic acceptance 8: parkes-1904-66_AZP.fits (AZP, NaN edges)', () => {
  it('AZP is supported; NaN pixels carry zero weight and the footprint is the finite input footprint', async () => {
    const file = fits('parkes-1904-66_AZP.fits');
    const src = fileImage(file);
    const finiteIn = countFinite(src.pixels);
    expect(finiteIn).toBeLessThan(src.nx * src.ny); // the map has NaN edges
    const c = pixelToWorld(src.wcs, (src.nx - 1) / 2, (src.ny - 1) / 2, new Float64Array(2));
    const pointing = { ra: c[0], dec: c[1] };
    const grid: MosaicGrid = {
      frame: 'FK5/2000',
      projection: 'SIN',
      center: pointing,
      pixel_arcsec: 240,
      nx: 240,
      ny: 240,
    };
    const m = manifestFor(
      [inputFor(file, { pointing, dishM: 0.02, noiseJy: 0.05 })],
      grid,
      path.join(dir, 'out'),
    );
    const r = await runMosaicBuild(writeManifest(m, path.join(dir, 'm.json')), m.result_path);
    expect(r.result.error).toBeNull();
    expect(r.exitCode).toBe(0);
    const img = readFits(m.outputs.fits).pixels;
    const w = readFits(m.outputs.weights).pixels;

    // 1. pixel by pixel: weight exactly where the nearest input pixel (exact transform) is finite
    const g = gridWcs(grid);
    const beam = makeBeam({ dishM: 0.02, freqHz: 1.42040575e9, pointing, smearRaDeg: 0 });
    const at = new Float64Array(3);
    const tmp = new Float64Array(2);
    let covered = 0;
    let mismatched = 0;
    for (let y = 0; y < grid.ny; y++) {
      for (let x = 0; x < grid.nx; x++) {
        const i = y * grid.nx + x;
        exactAt(g, src.wcs, beam, x, y, at, tmp);
        const [ix, iy] = [Math.round(at[0]), Math.round(at[1])];
        const inside = ix >= 0 && iy >= 0 && ix < src.nx && iy < src.ny;
        const v = inside ? src.pixels[iy * src.nx + ix] : NaN;
        const has = w[i] > 0;
        if (has) covered++;
        if (has !== Number.isFinite(v)) mismatched++;
        // a NaN that reached the sums would make the mosaic NaN where W > 0
        if (has) expect(Number.isFinite(img[i])).toBe(true);
        else expect(img[i]).toBeNaN();
      }
    }
    // only pixels on a rounding boundary (the node grid's 1e-3 px) may differ from the exact transform
    expect(mismatched / covered).toBeLessThan(0.002);

    // 2. by area: the covered sky equals the finite input pixels' sky (each input pixel's quad on the canvas)
    const corner = new Float64Array(2);
    let expectedPx = 0;
    for (let y = 0; y < src.ny; y++) {
      for (let x = 0; x < src.nx; x++) {
        if (!Number.isFinite(src.pixels[y * src.nx + x])) continue;
        const q = [
          [x - 0.5, y - 0.5],
          [x + 0.5, y - 0.5],
          [x + 0.5, y + 0.5],
          [x - 0.5, y + 0.5],
        ].map(([u, v]) => {
          pixelToWorld(src.wcs, u, v, corner);
          worldToPixel(g, corner[0], corner[1], corner);
          return [corner[0], corner[1]];
        });
        let a = 0;
        for (let k = 0; k < 4; k++) a += q[k][0] * q[(k + 1) % 4][1] - q[(k + 1) % 4][0] * q[k][1];
        expectedPx += Math.abs(a) / 2;
      }
    }
    expect(Math.abs(covered / expectedPx - 1)).toBeLessThan(0.01);
    const res = parseResult(fs.readFileSync(m.result_path, 'utf8'));
    expect(res.stats!.nan_fraction_in_footprint).toBeGreaterThan(0); // the NaN edge lies inside the map's box
  });
});
