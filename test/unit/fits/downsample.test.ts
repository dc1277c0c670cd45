// NaN-aware downsampling in FITS row order: mean, max and nearest on a small known grid.
import { describe, expect, it } from 'vitest';
import { Downsampler, outputSize } from '../../../lib/fits/index.js';

// 4×4 input, rows bottom-up: value = 10·y + x, with one NaN and one all-NaN 2×2 block (top-right).
const nx = 4;
const grid = Float64Array.from({ length: 16 }, (_, i) => {
  const x = i % nx;
  const y = Math.floor(i / nx);
  if (x >= 2 && y >= 2) return NaN;
  return x === 0 && y === 0 ? NaN : 10 * y + x;
});

function run(mode: 'mean' | 'max' | 'nearest', stripRows: number): Float32Array {
  const d = new Downsampler(4, 4, 2, mode);
  for (let y0 = 0; y0 < 4; y0 += stripRows)
    d.add(grid.subarray(y0 * nx, (y0 + stripRows) * nx), y0, stripRows);
  return d.data;
}

describe('Downsampler', () => {
  it('keeps the aspect ratio and never upsamples', () => {
    expect(outputSize(4096, 2048, 512)).toEqual({ width: 512, height: 256 });
    expect(outputSize(300, 440, 512)).toEqual({ width: 300, height: 440 });
    expect(outputSize(5040, 5040, 512)).toEqual({ width: 512, height: 512 });
  });

  it('mean ignores NaN and gives NaN for a bin with no finite pixel, whatever the strip size', () => {
    for (const strip of [1, 2, 4]) {
      const d = run('mean', strip);
      expect(d[0]).toBeCloseTo((1 + 10 + 11) / 3, 6);
      expect(d[1]).toBeCloseTo((2 + 3 + 12 + 13) / 4, 6);
      expect(d[2]).toBeCloseTo((20 + 21 + 30 + 31) / 4, 6);
      expect(d[3]).toBeNaN();
    }
  });

  it('max keeps peaks; nearest takes the bin centre pixel', () => {
    expect(Array.from(run('max', 2).subarray(0, 3))).toEqual([11, 13, 31]);
    const n = run('nearest', 1);
    expect(Array.from(n.subarray(0, 3))).toEqual([11, 13, 31]);
    expect(n[3]).toBeNaN();
  });
});
