// On the real files: counts, min, max and sums equal astropy's; zscale limits within
// 1e-6 of the display range for contrast 0.25 and 0.2; limits computed on a flipped array do not match.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openImage, planeStats, readPlane, renderThumbnail, zscale } from '../../../lib/fits/index.js';
import { SHARED_DATA } from '../../helpers/tmp.js';

interface OracleEntry {
  error?: string;
  bitpix?: number;
  shape?: number[];
  n_finite?: number;
  n_nonfinite?: number;
  plane_nx?: number;
  plane_ny?: number;
  min?: number;
  max?: number;
  sum?: number;
  'zscale_0.2'?: [number, number];
  'zscale_0.25'?: [number, number];
}

const dir = path.join(SHARED_DATA, 'fits');
const oracle = JSON.parse(fs.readFileSync(path.join(dir, 'oracle-astropy.json'), 'utf8')) as {
  files: Record<string, OracleEntry>;
};
const REFUSED: Record<string, string> = {
  'astropy-comp.fits': 'UNSUPPORTED_COMPRESSED',
  'astropy-random_groups.fits': 'RANDOM_GROUPS',
  'astropy-history_header.fits': 'NOT_IMAGE',
  'astropy-zerowidth.fits': 'NOT_IMAGE',
};
const usable = Object.entries(oracle.files).filter(([f]) => !(f in REFUSED));

describe('lib/fits against astropy 5.2.1', () => {
  it('covers every file of the oracle', () => {
    expect(usable.length + Object.keys(REFUSED).length).toBe(Object.keys(oracle.files).length);
    expect(usable.length).toBeGreaterThanOrEqual(7);
  });

  it.each(usable)('%s: shape, finite count, min, max and sum equal astropy', (file, o) => {
    const r = planeStats(path.join(dir, file), { contrast: 0.25 });
    expect(r.shape).toEqual(o.shape);
    expect(r.dataBitpix).toBe(o.bitpix);
    expect([r.planeNx, r.planeNy]).toEqual([o.plane_nx, o.plane_ny]);
    expect(r.nFinite).toBe(o.n_finite);
    expect(r.nNonFinite).toBe(o.n_nonfinite ?? r.planeNx * r.planeNy - r.nFinite);
    expect(r.min).toBe(o.min ?? null);
    expect(r.max).toBe(o.max ?? null);
    if (o.sum === undefined) expect(r.sum).toBe(0);
    else expect(Math.abs(r.sum - o.sum)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(o.sum)));
  });

  it.each(usable.filter(([, o]) => o['zscale_0.2']))(
    '%s: zscale limits within 1e-6 of the range',
    (file, o) => {
      for (const c of [0.25, 0.2] as const) {
        const want = o[`zscale_${c}`]!;
        const r = planeStats(path.join(dir, file), { contrast: c });
        const range = Math.max(o.max! - o.min!, Number.MIN_VALUE);
        expect(r.zscale).not.toBeNull();
        expect(Math.abs(r.zscale![0] - want[0]) / range).toBeLessThanOrEqual(1e-6);
        expect(Math.abs(r.zscale![1] - want[1]) / range).toBeLessThanOrEqual(1e-6);
      }
    },
  );

  it('gives null zscale for a plane with no finite pixel (BITPIX 64 BLANK)', () => {
    const r = planeStats(path.join(dir, 'astropy-blank.fits'));
    expect(r.nFinite).toBe(0);
    expect(r.zscale).toBeNull();
  });

  it.each(Object.entries(REFUSED))('%s is refused with %s', (file, code) => {
    expect(() => planeStats(path.join(dir, file))).toThrow(
      expect.objectContaining({ code, retryable: false }),
    );
  });

  it('computes limits in FITS row order: a vertically flipped Parkes plane does not match', () => {
    const img = openImage(path.join(dir, 'parkes-1904-66_AZP.fits'));
    const plane = readPlane(img, 0);
    img.close();
    const [nx, ny] = [192, 192];
    const flipped = new Float32Array(plane.length);
    for (let y = 0; y < ny; y++) flipped.set(plane.subarray((ny - 1 - y) * nx, (ny - y) * nx), y * nx);
    const want = oracle.files['parkes-1904-66_AZP.fits']['zscale_0.25']!;
    const range = oracle.files['parkes-1904-66_AZP.fits'].max! - oracle.files['parkes-1904-66_AZP.fits'].min!;
    const straight = zscale(plane, { contrast: 0.25 }, 'float32')!;
    const bad = zscale(flipped, { contrast: 0.25 }, 'float32')!;
    expect(Math.abs(straight.vmin - want[0]) / range).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(bad.vmin - want[0]) / range).toBeGreaterThan(1e-3);
  });

  it('limitsOn full gives the astropy limits of the full plane even for a downsampled thumbnail', () => {
    const o = oracle.files['parkes-1904-66_AZP.fits'];
    const r = renderThumbnail(path.join(dir, 'parkes-1904-66_AZP.fits'), {
      maxDim: 64,
      limitsOn: 'full',
      contrast: 0.2,
    });
    expect(r.width).toBe(64);
    expect(Math.abs(r.vmin - o['zscale_0.2']![0]) / (o.max! - o.min!)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(r.vmax - o['zscale_0.2']![1]) / (o.max! - o.min!)).toBeLessThanOrEqual(1e-6);
  });
});
