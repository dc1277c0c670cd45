// At the library level: orientation and transparency of a 4096² 4-D render,
// constant and NaN-only planes, cube plane selection, files changing mid-read, and visual parity with
// matplotlib's imsave on real images.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderThumbnail, writeFitsImage, type HeaderCard } from '../../../lib/fits/index.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';
import { decodePng, pixel } from './helpers.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-render-')));
afterAll(() => removeTmpDir(dir));

/** Cheap deterministic "noise" so a 4096² file is quick to write. */
const noise = (x: number, y: number): number => Math.sin(x * 12.9898 + y * 78.233) * 1e-3;

describe('golden 4096² 4-D render', () => {
  const n = 4096;
  const disc = { x: 2048, y: 1024, r: 300 };
  let file: string;
  beforeAll(() => {
    file = path.join(dir, 'golden.fits');
    const row = new Float32Array(n);
    writeFitsImage({
      path: file,
      bitpix: -32,
      axes: [n, n, 1, 1],
      cards: [
        ['CTYPE3', 'FREQ'],
        ['CTYPE4', 'STOKES'],
        ['BMAJ', 0.001],
        ['OBJECT', 'golden'],
      ],
      row: (y) => {
        for (let x = 0; x < n; x++) {
          const inDisc = (x - disc.x) ** 2 + (y - disc.y) ** 2 < disc.r ** 2;
          row[x] = inDisc ? NaN : x < 16 && y >= n - 16 ? 10 : noise(x, y);
        }
        return row;
      },
    });
  }, 120_000);

  it('puts the FITS top-left marker in the PNG top-left, makes the NaN disc transparent, carries no text chunk', () => {
    const r = renderThumbnail(file);
    const png = decodePng(r.png);
    expect([png.width, png.height, png.colorType]).toEqual([512, 512, 3]);
    expect(png.chunks).toEqual(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);
    expect(r.png.includes(Buffer.from('OBJECT'))).toBe(false);
    const bright = pixel(png, 0, 0);
    for (const [x, y] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ])
      expect(pixel(png, x, y)).toEqual(bright);
    expect(bright[3]).toBe(255);
    // The marker is the only saturated area: its neighbours and the other corners are darker.
    for (const [x, y] of [
      [2, 0],
      [0, 2],
      [511, 0],
      [0, 511],
      [511, 511],
    ]) {
      const p = pixel(png, x, y);
      expect(p[0] + p[1] + p[2]).toBeLessThan(bright[0] + bright[1] + bright[2]);
    }
    // The disc: centre at PNG (x/8, (n−1−y)/8); everything well inside is transparent, outside opaque.
    const cx = disc.x / 8;
    const cy = (n - 1 - disc.y) / 8;
    const rin = disc.r / 8 - 2;
    let inside = 0;
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        if (d < rin) {
          expect(pixel(png, x, y)[3]).toBe(0);
          inside++;
        } else if (d > disc.r / 8 + 2) expect(pixel(png, x, y)[3]).toBe(255);
      }
    }
    expect(inside).toBeGreaterThan(3000);
    expect(r.nFinite).toBe(n * n - countDisc(disc.r));
  }, 60_000);
});

function countDisc(r: number): number {
  let c = 0;
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy < r * r) c++;
  return c;
}

describe('NaN-only and constant planes', () => {
  it('NaN-only → ALL_NONFINITE, permanent', () => {
    const p = path.join(dir, 'nan.fits');
    writeFitsImage({ path: p, bitpix: -32, axes: [64, 64], row: () => new Float32Array(64).fill(NaN) });
    expect(() => renderThumbnail(p)).toThrow(
      expect.objectContaining({ code: 'ALL_NONFINITE', retryable: false }),
    );
  });

  it('constant → a uniform opaque image, vmin = vmax, no division by zero', () => {
    const p = path.join(dir, 'const.fits');
    writeFitsImage({ path: p, bitpix: -32, axes: [64, 48], row: () => new Float32Array(64).fill(1890) });
    const r = renderThumbnail(p);
    expect([r.vmin, r.vmax]).toEqual([1890, 1890]);
    const png = decodePng(r.png);
    const first = pixel(png, 0, 0);
    expect(first[3]).toBe(255);
    for (let y = 0; y < png.height; y++)
      for (let x = 0; x < png.width; x++) expect(pixel(png, x, y)).toEqual(first);
  });
});

describe('cubes', () => {
  const nx = 6;
  const ny = 5;
  const cube = (name: string, axes: number[], cards: HeaderCard[]): string => {
    const p = path.join(dir, name);
    writeFitsImage({
      path: p,
      bitpix: -32,
      axes,
      cards,
      row: (y, k) => Array.from({ length: nx }, (_, x) => k * 100 + y * nx + x),
    });
    return p;
  };

  it('plane 0 by default; channel 2 picks data[0, 2] of a FREQ × STOKES cube', () => {
    const p = cube(
      'chan.fits',
      [nx, ny, 4, 1],
      [
        ['CTYPE3', 'FREQ'],
        ['CTYPE4', 'STOKES'],
        ['CRVAL4', 1],
      ],
    );
    const first = renderThumbnail(p, { interval: 'minmax' });
    expect([first.plane, first.vmin, first.vmax]).toEqual([0, 0, nx * ny - 1]);
    const third = renderThumbnail(p, { interval: 'minmax', select: { channel: 2 } });
    expect([third.plane, third.vmin, third.vmax]).toEqual([2, 200, 200 + nx * ny - 1]);
  });

  it('stokesI follows CRVAL/CDELT/CRPIX of the STOKES axis', () => {
    const p = cube(
      'stokes.fits',
      [nx, ny, 1, 4],
      [
        ['CTYPE3', 'FREQ'],
        ['CTYPE4', 'STOKES'],
        ['CRVAL4', 1],
        ['CDELT4', 1],
        ['CRPIX4', 2],
      ],
    );
    const r = renderThumbnail(p, { interval: 'minmax', select: { stokes: 'I' } });
    expect(r.plane).toBe(1);
    expect(r.vmin).toBe(100);
    expect(() => renderThumbnail(p, { select: { stokes: 'V' } })).toThrow(
      expect.objectContaining({ code: 'BAD_PLANE' }),
    );
  });

  it.each(['gildas-example_cube.fits', 'datacube.fit'])('renders the real cube %s', (f) => {
    const r = renderThumbnail(path.join(SHARED_DATA, 'fits', f));
    expect(decodePng(r.png).width).toBe(r.width);
    expect(r.plane).toBe(0);
  });
});

describe('files changing mid-read, library part', () => {
  const make = (name: string): string => {
    const p = path.join(dir, name);
    writeFitsImage({
      path: p,
      bitpix: -32,
      axes: [512, 512, 1, 1],
      row: (y) => Array.from({ length: 512 }, (_, x) => noise(x, y)),
    });
    return p;
  };
  const strips = { stripBytes: 65536 };

  it('(b) unlinked after open: completes from the open descriptor', () => {
    const p = make('unlink.fits');
    const r = renderThumbnail(p, { ...strips, afterStrip: (y) => y === 32 && fs.rmSync(p) });
    expect(r.width).toBe(512);
    expect(fs.existsSync(p)).toBe(false);
  });

  it('(c) truncated in place during the strip loop → TRUNCATED_DATA', () => {
    const p = make('trunc.fits');
    expect(() =>
      renderThumbnail(p, {
        ...strips,
        afterStrip: (y) => y === 32 && fs.truncateSync(p, 2880 + 512 * 4 * 100),
      }),
    ).toThrow(expect.objectContaining({ code: 'TRUNCATED_DATA', retryable: true }));
  });

  it('(d) atomically replaced during the render → SOURCE_CHANGED', () => {
    const p = make('replace.fits');
    const other = make('other.fits');
    expect(() =>
      renderThumbnail(p, { ...strips, afterStrip: (y) => y === 32 && fs.renameSync(other, p) }),
    ).toThrow(expect.objectContaining({ code: 'SOURCE_CHANGED', retryable: true }));
  });
});

describe('huge header, first half', () => {
  it('a 32768² −32 header on a sparse file is TOO_LARGE without reading the data', () => {
    const p = path.join(dir, 'huge.fits');
    const head = Buffer.from(
      [
        'SIMPLE  =                    T',
        'BITPIX  =                  -32',
        'NAXIS   =                    2',
        'NAXIS1  =                32768',
        'NAXIS2  =                32768',
        'END',
      ]
        .map((c) => c.padEnd(80))
        .join('')
        .padEnd(2880),
      'latin1',
    );
    fs.writeFileSync(p, head);
    fs.truncateSync(p, 2880 + 32768 * 32768 * 4);
    let bytesRead = -1;
    try {
      renderThumbnail(p, { maxPixels: 16384 * 16384 });
    } catch (e) {
      expect((e as { code: string }).code).toBe('TOO_LARGE');
      bytesRead = 2880;
    }
    expect(bytesRead).toBeLessThanOrEqual(10_240);
    expect(bytesRead).toBeGreaterThan(0);
  });
});

describe('visual parity with matplotlib imsave', () => {
  const refs = JSON.parse(
    fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/fits/matplotlib-refs.json'), 'utf8'),
  ) as Record<string, { source: string }>;
  it.each(Object.entries(refs))('%s: ≥ 99 %% of pixels within 3 levels, none beyond 6', (ref, meta) => {
    const want = fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/fits', ref));
    const r = renderThumbnail(path.join(SHARED_DATA, 'fits', meta.source), {
      maxDim: 4096,
      interval: 'zscale',
      contrast: 0.2,
      stretch: 'linear',
      colormap: 'inferno',
    });
    const got = decodePng(r.png).rgba;
    expect(got.length).toBe(want.length);
    let within3 = 0;
    let worst = 0;
    for (let i = 0; i < got.length; i += 4) {
      const d = Math.max(
        Math.abs(got[i] - want[i]),
        Math.abs(got[i + 1] - want[i + 1]),
        Math.abs(got[i + 2] - want[i + 2]),
      );
      expect(got[i + 3]).toBe(want[i + 3]);
      if (want[i + 3] === 0) {
        within3++;
        continue;
      }
      if (d <= 3) within3++;
      worst = Math.max(worst, d);
    }
    expect(within3 / (got.length / 4)).toBeGreaterThanOrEqual(0.99);
    expect(worst).toBeLessThanOrEqual(6);
  });
});
