// The default look (issue: linear stretch, so radio sources stand out of dark noise): on a noise-plus-point-
// sources image rendered with the daemon's default preset, the median noise pixel lands in the lower third
// of the colour map and every injected source above 10 σ in the upper tenth. The old asinh look fails both.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { colormap, DEFAULT_LOOK, renderThumbnail, writeFitsImage } from '../../../lib/fits/index.js';
import { presetOptions } from '../../../daemons/thumbnail-worker/presets.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { mulberry32 } from '../../helpers/random.js';
import { decodePng } from './helpers.js';

const N = 512;
const SIGMA = 1e-4;
/** Peaks in units of σ: every one above 10 σ must reach the top tenth; the faint ones are only noise-level. */
const PEAKS = [3, 6, 10.5, 12, 15, 20, 30, 50, 100, 300, 1000, 5000];

let dir: string;
let file: string;
const sources: { x: number; y: number; peak: number }[] = [];

beforeAll(() => {
  dir = makeTmpDir('fits-look-');
  file = path.join(dir, 'noise-sources.fits');
  const rand = mulberry32(16);
  PEAKS.forEach((peak, i) => sources.push({ x: 30 + ((i * 97) % 450), y: 30 + ((i * 151) % 450), peak }));
  const row = new Float32Array(N);
  writeFitsImage({
    path: file,
    bitpix: -32,
    axes: [N, N, 1, 1],
    row: (y) => {
      for (let x = 0; x < N; x++) {
        const r = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12)));
        row[x] = SIGMA * r * Math.cos(2 * Math.PI * rand());
      }
      // Point sources convolved with a 2.5-pixel (FWHM) beam.
      for (const s of sources)
        for (let x = s.x - 6; x <= s.x + 6; x++)
          row[x] += s.peak * SIGMA * Math.exp(-((x - s.x) ** 2 + (y - s.y) ** 2) / (2 * 1.06 ** 2));
      return row;
    },
  });
});
afterAll(() => removeTmpDir(dir));

/** Colour-map bin of every PNG pixel (rows top-down), by inverting the inferno palette. */
function bins(png: Buffer): { at: (x: number, fitsY: number) => number; all: Uint8Array } {
  const cmap = colormap('inferno');
  const index = new Map<number, number>();
  for (let k = 0; k < 256; k++) index.set((cmap[3 * k] << 16) | (cmap[3 * k + 1] << 8) | cmap[3 * k + 2], k);
  const d = decodePng(png);
  const all = new Uint8Array(d.width * d.height);
  for (let i = 0; i < all.length; i++) {
    const k = index.get((d.rgba[4 * i] << 16) | (d.rgba[4 * i + 1] << 8) | d.rgba[4 * i + 2]);
    if (k === undefined) throw new Error(`pixel ${i} is not an inferno colour`);
    all[i] = k;
  }
  return { all, at: (x, fitsY) => all[(d.height - 1 - fitsY) * d.width + x] };
}

function judge(png: Buffer): { medianNoiseBin: number; faintestBrightBin: number } {
  const b = bins(png);
  const near = (x: number, y: number) => sources.some((s) => Math.abs(s.x - x) < 8 && Math.abs(s.y - y) < 8);
  const noise: number[] = [];
  for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) if (!near(x, y)) noise.push(b.at(x, y));
  noise.sort((p, q) => p - q);
  const bright = sources.filter((s) => s.peak > 10).map((s) => b.at(s.x, s.y));
  return { medianNoiseBin: noise[noise.length >> 1], faintestBrightBin: Math.min(...bright) };
}

describe('the default look', () => {
  it('is zscale 0.2 + linear + inferno, NaN transparent, in the daemon preset and the renderer alike', () => {
    expect(DEFAULT_LOOK).toMatchObject({
      interval: 'zscale',
      contrast: 0.2,
      stretch: 'linear',
      colormap: 'inferno',
    });
    expect(DEFAULT_LOOK.nan).toBe('transparent');
  });

  it('puts the median noise pixel in the lower third and every source above 10 σ in the upper tenth', () => {
    const raw = { dataDir: dir, databases: { state: path.join(dir, 's'), pipeline: path.join(dir, 'p') } };
    const preset = presetOptions(parseConfig(raw, dir).thumbnailWorker).q512;
    const r = renderThumbnail(file, preset);
    expect([r.width, r.height]).toEqual([N, N]);
    const { medianNoiseBin, faintestBrightBin } = judge(r.png);
    expect(medianNoiseBin).toBeLessThan(256 / 3);
    expect(faintestBrightBin).toBeGreaterThanOrEqual(0.9 * 256);
    // The default renderer options are the same look.
    expect(renderThumbnail(file).png.equals(r.png)).toBe(true);
  });

  it('the old asinh look lifts the noise into the bright half (why the default changed)', () => {
    const { medianNoiseBin } = judge(renderThumbnail(file, { stretch: 'asinh' }).png);
    expect(medianNoiseBin).toBeGreaterThan(128);
  });
});
