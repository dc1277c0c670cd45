// mosaic acceptance 4: four identical pointings, σ = 1 mJy, through the built `contimg mosaic-build` as a child
// process: both files appear through a `.partial` rename, EFFNOISE = σ/2, W at the centre = 4/σ² Jy⁻², the
// measured inner noise matches 1/√W, and the result JSON agrees with the headers and the files.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseResult } from '../../../lib/mosaic/manifest.js';
import { manifestFromTiles, writeMosaicTiles } from '../../../lib/sim/mosaic-tiles.js';
import { runCli } from '../../helpers/cli.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { madStd, median, partialsIn, readFits, writeManifest } from './mbuild-helpers.js';

let dir: string;
beforeEach(() => {
  dir = makeTmpDir('mbuild-e2e-');
});
afterEach(() => removeTmpDir(dir));

describe('mosaic acceptance 4: end-to-end build of four identical pointings', () => {
  it('writes both files via .partial, EFFNOISE 0.5 mJy, W centre 4/σ², inner noise = 1/√W, result = headers', async () => {
    const sigma = 1e-3;
    // A 0.5 m dish: a beam of 30° FWHM, flat over the 3.5° tile (A ≥ 0.98), so the figures are σ/√N exactly
    // as stated; the beam weighting itself is test 5's.
    const tiles = writeMosaicTiles({
      dir: path.join(dir, 'in'),
      n: 4,
      nx: 256,
      samePointing: true,
      noiseJy: sigma,
      dishM: 0.5,
      seed: 4,
    });
    const before = tiles.map((t) => fs.statSync(t.path, { bigint: true }));
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const m = manifestFromTiles(tiles, {
      outputDir: out,
      name: 'quicklook_d+55.6_20260101T0000_0020',
      planId: 42,
    });
    const manifest = writeManifest(m, path.join(out, 'm.manifest.json'));

    const seen: string[] = [];
    const watcher = fs.watch(out, (_ev, name) => {
      if (name && !seen.includes(name)) seen.push(name);
    });
    const r = await runCli(['mosaic-build', '--manifest', manifest, '--result', m.result_path], {
      built: true,
      timeoutMs: 120_000,
    });
    watcher.close();
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);

    // both outputs were written as .partial and renamed; none remains
    for (const f of [m.outputs.fits, m.outputs.weights]) {
      expect(seen).toContain(`${path.basename(f)}.partial`);
      expect(fs.existsSync(f)).toBe(true);
    }
    expect(partialsIn(out)).toEqual([]);
    // the inputs are untouched
    tiles.forEach((t, i) => {
      const now = fs.statSync(t.path, { bigint: true });
      expect([now.size, now.mtimeNs, now.ino]).toEqual([before[i].size, before[i].mtimeNs, before[i].ino]);
    });

    const img = readFits(m.outputs.fits);
    const wts = readFits(m.outputs.weights);
    const h = img.values;
    expect([img.nx, img.ny]).toEqual([m.grid.nx, m.grid.ny]);
    const effnoise = h.get('EFFNOISE') as number;
    expect(Math.abs(effnoise / (sigma / 2) - 1)).toBeLessThan(0.05);
    // W at the centre pixel
    const cx = Math.floor((m.grid.nx - 1) / 2);
    const cy = Math.floor((m.grid.ny - 1) / 2);
    const wCentre = wts.pixels[cy * m.grid.nx + cx];
    expect(Math.abs(wCentre / (4 / sigma ** 2) - 1)).toBeLessThan(0.02);
    // inner = W ≥ ½ max W: the measured noise of the mosaic against 1/√W there
    let maxW = 0;
    for (const w of wts.pixels) if (w > maxW) maxW = w;
    const values: number[] = [];
    const expected: number[] = [];
    wts.pixels.forEach((w, i) => {
      if (w >= 0.5 * maxW) {
        values.push(img.pixels[i]);
        expected.push(1 / Math.sqrt(w));
      }
    });
    expect(values.length).toBeGreaterThan(40_000);
    expect(values.every(Number.isFinite)).toBe(true);
    const measured = madStd(values);
    expect(Math.abs(measured / median(expected) - 1)).toBeLessThan(0.1);

    // header keywords
    expect(h.get('NIMAGES')).toBe(4);
    expect(h.get('MEDRMS')).toBeCloseTo(sigma, 12);
    expect(h.get('PBMODEL')).toBe('AIRY');
    expect(h.get('PBCUT')).toBe(0.2);
    expect(h.get('DISHDIAM')).toBe(0.5);
    expect(h.get('BUNIT')).toBe('JY/BEAM');
    expect(wts.values.get('BUNIT')).toBe('Jy**-2');
    expect(h.get('RADESYS')).toBe('FK5');
    expect(h.get('EQUINOX')).toBe(2000);
    expect(h.get('PLANID')).toBe(42);
    expect(h.get('INHASH')).toBe(m.inputs_hash);
    expect(h.get('CTYPE1')).toBe('RA---SIN');
    expect(h.get('CTYPE2')).toBe('DEC--SIN');
    expect(h.get('CRVAL1')).toBeCloseTo(m.grid.center.ra, 9);
    expect(h.get('CRVAL2')).toBeCloseTo(m.grid.center.dec, 9);
    expect(h.get('CRPIX1')).toBeCloseTo((m.grid.nx + 1) / 2, 9);
    expect(h.get('CDELT1')).toBeCloseTo(-m.grid.pixel_arcsec / 3600, 12);
    expect(h.get('CDELT2')).toBeCloseTo(m.grid.pixel_arcsec / 3600, 12);

    // the result JSON agrees with the files and the headers
    const res = parseResult(fs.readFileSync(m.result_path, 'utf8'));
    expect(res.ok).toBe(true);
    expect(res.error_code).toBeNull();
    expect(res.n_used).toBe(4);
    expect(res.skipped).toEqual([]);
    expect(res.grid).toEqual(m.grid);
    expect(res.outputs).toEqual({
      fits: m.outputs.fits,
      weights: m.outputs.weights,
      bytes: fs.statSync(m.outputs.fits).size + fs.statSync(m.outputs.weights).size,
    });
    const s = res.stats!;
    expect(s.effective_noise_jy).toBeCloseTo(effnoise, 12);
    expect(s.median_input_noise_jy).toBe(sigma);
    expect(s.nan_fraction_in_footprint).toBe(0);
    expect(s.coverage_sq_deg).toBeCloseTo(h.get('COVERAGE') as number, 9);
    expect(Math.abs(s.coverage_sq_deg / 3.5 ** 2 - 1)).toBeLessThan(0.03); // the tile's 3.5° square
    expect(s.peak_rss_bytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(s.seconds).toBeGreaterThan(0);
    expect(res.builder_version).toBe(h.get('BUILDER'));
  });
});
