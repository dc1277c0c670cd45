// zscale edge cases, numpy-linear percentiles, stretches, colour maps and the PNG writer.
import { describe, expect, it } from 'vitest';
import {
  colormap,
  colorize,
  encodeIndexedPng,
  percentile,
  stretchFn,
  zscale,
  zscaleFromSamples,
} from '../../../lib/fits/index.js';
import { decodePng, pixel } from './helpers.js';

describe('zscale', () => {
  it('returns the sample min/max when there are fewer than min_npixels samples, null when nothing is finite', () => {
    expect(zscale([3, NaN, 1, 2])).toMatchObject({ vmin: 1, vmax: 3 });
    expect(zscale([NaN, Infinity])).toBeNull();
  });

  it('samples every stride-th finite value: 2500 values → stride 2, 1000 samples', () => {
    const v = Float64Array.from({ length: 2500 }, (_, i) => i);
    expect(zscale(v)!.nSamples).toBe(1000);
    expect(zscaleFromSamples(new Float64Array(0))).toBeNull();
  });

  it('clips to the data for a straight ramp and narrows for a ramp with outliers', () => {
    const ramp = Float64Array.from({ length: 1000 }, (_, i) => i);
    expect(zscale(ramp, { contrast: 0.25 })).toMatchObject({ vmin: 0, vmax: 999 });
    const noisy = Float64Array.from({ length: 1000 }, (_, i) => (i % 100 === 0 ? 1e6 : Math.sin(i) * 0.01));
    const r = zscale(noisy, { contrast: 0.25 })!;
    expect(r.vmax).toBeLessThan(1);
  });
});

describe('percentile (numpy linear)', () => {
  it('interpolates like numpy', () => {
    expect(percentile([1, 2, 3, 4], [0, 50, 100, 25])).toEqual([1, 2.5, 4, 1.75]);
    expect(percentile([NaN, 5], [1, 99.5])).toEqual([5, 5]);
    expect(percentile([NaN], [50])).toBeNull();
  });
});

describe('stretches and colour maps', () => {
  it('astropy stretches map 0 → 0 and 1 → 1', () => {
    for (const s of ['linear', 'sqrt', 'asinh', 'log'] as const) {
      expect(stretchFn(s)(0)).toBeCloseTo(0, 12);
      expect(stretchFn(s)(1)).toBeCloseTo(1, 12);
    }
    expect(stretchFn('asinh')(0.5)).toBeCloseTo(Math.asinh(5) / Math.asinh(10), 12);
  });

  it('colour maps are matplotlib 3.6 bytes (endpoints)', () => {
    const end = (n: Parameters<typeof colormap>[0]) => [
      ...colormap(n).subarray(0, 3),
      ...colormap(n).subarray(765),
    ];
    expect(end('inferno')).toEqual([0, 0, 3, 252, 254, 164]);
    expect(end('viridis')).toEqual([68, 1, 84, 253, 231, 36]);
    expect(end('magma')).toEqual([0, 0, 3, 251, 252, 191]);
    expect(end('gray')).toEqual([0, 0, 0, 255, 255, 255]);
  });

  it('NaN gets an unused palette slot, or the closest mid-map pair is merged to free one', () => {
    const full = Float64Array.from({ length: 257 }, (_, i) => (i === 256 ? NaN : i / 255));
    const c = colorize(full, { vmin: 0, vmax: 1, stretch: 'linear', colormap: 'inferno' });
    expect(c.transparentIndex).not.toBeNull();
    expect(c.transparentIndex!).toBeGreaterThan(0);
    expect(c.transparentIndex!).toBeLessThan(255);
    expect(c.indices[256]).toBe(c.transparentIndex);
    expect(c.indices[0]).toBe(0);
    expect(c.indices[255]).toBe(255);
    const few = colorize([0, 1, NaN], { vmin: 0, vmax: 1, stretch: 'linear', colormap: 'gray' });
    expect(few.indices[2]).toBe(few.transparentIndex);
    expect([few.indices[0], few.indices[1]]).toEqual([0, 255]);
    expect(
      colorize([0, 1], { vmin: 0, vmax: 1, stretch: 'linear', colormap: 'gray' }).transparentIndex,
    ).toBeNull();
  });
});

describe('encodeIndexedPng', () => {
  it('writes north up: FITS row 0 (bottom) is the last PNG row', () => {
    const pal = colormap('gray');
    const png = decodePng(
      encodeIndexedPng(Uint8Array.from([0, 0, 255, 255]), 2, 2, pal, { transparentIndex: 0 }),
    );
    expect(pixel(png, 0, 0)).toEqual([255, 255, 255, 255]);
    expect(pixel(png, 0, 1)).toEqual([0, 0, 0, 0]);
  });
});
