// The median's sample buffer is reused from one accumulator to the next: it must give exactly the numbers
// of a fresh accumulator, whatever the sizes before.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderThumbnail, StatsAccumulator, writeFitsImage } from '../../../lib/fits/index.js';
import { spareSampleBuffer } from '../../../lib/fits/stats.js';
import { mulberry32 } from '../../helpers/random.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-be-stats-')));
afterAll(() => removeTmpDir(dir));

describe('the reused sample buffer', () => {
  /** numpy's median of the finite float32 values, and the MAD about it, by a full sort. */
  function byHand(values: ArrayLike<number>): { median: number; madStd: number } {
    const med = (a: number[]): number => {
      const s = [...a].sort((x, y) => x - y);
      const h = s.length >> 1;
      return s.length % 2 ? s[h] : Math.fround(Math.fround(s[h - 1] + s[h]) / 2);
    };
    const finite = Array.from(values).filter((v) => Number.isFinite(v));
    const median = med(finite);
    return { median, madStd: 1.482602218505602 * med(finite.map((v) => Math.abs(Math.fround(v - median)))) };
  }

  const plane = (n: number, seed: number, offset: number): Float32Array => {
    const rand = mulberry32(seed);
    return Float32Array.from({ length: n }, (_, i) => (i % 13 === 0 ? NaN : Math.fround(offset + rand())));
  };

  it('a smaller plane after a larger one sees none of its samples, and the reverse', () => {
    // Offsets far apart: one stale sample of another plane would move the median.
    for (const [n, seed, offset] of [
      [50_001, 1, 1000],
      [301, 2, -5],
      [20_000, 3, 7],
      [4, 4, 0.5],
      [90_000, 5, -300],
    ]) {
      const px = plane(n, seed, offset);
      const acc = new StatsAccumulator(n);
      acc.add(px);
      const r = acc.result();
      expect([r.median, r.madStd]).toEqual(Object.values(byHand(px)));
      expect(r.robustSamples).toBe(n - Math.ceil(n / 13));
    }
  });

  it('two accumulators alive at once do not share a buffer (the mosaic QA keeps two)', () => {
    const warm = new StatsAccumulator(30_000);
    warm.add(plane(30_000, 6, 0));
    warm.result(); // leaves a spare buffer
    const a = new StatsAccumulator(10_000);
    const b = new StatsAccumulator(10_000);
    const pa = plane(10_000, 7, 100);
    const pb = plane(10_000, 8, -100);
    for (let i = 0; i < 10_000; i += 1000) {
      a.add(pa.subarray(i, i + 1000));
      b.add(pb.subarray(i, i + 1000));
    }
    expect([b.result().median, b.result().madStd]).toEqual(Object.values(byHand(pb)));
    expect([a.result().median, a.result().madStd]).toEqual(Object.values(byHand(pa)));
  });

  it('keeps one spare, the largest given back, and lends it to one accumulator at a time', () => {
    const filled = (n: number): StatsAccumulator => {
      const acc = new StatsAccumulator(n, n); // n samples: the buffer's size is n
      acc.add(plane(n, n, 0));
      return acc;
    };
    filled(10).result();
    expect(spareSampleBuffer()).toBeGreaterThanOrEqual(10);
    const holder = new StatsAccumulator(1, 1); // takes whatever spare earlier tests left
    expect(spareSampleBuffer()).toBe(0);
    const a = filled(5000);
    const b = filled(3000);
    b.result();
    expect(spareSampleBuffer()).toBe(3000);
    a.result();
    expect(spareSampleBuffer()).toBe(5000); // the larger replaces the smaller
    filled(4000).result(); // borrows the 5000 and gives it back
    expect(spareSampleBuffer()).toBe(5000);
    const d = filled(5000); // exactly the spare's size: borrowed
    expect(spareSampleBuffer()).toBe(0);
    const e = filled(700); // nothing to borrow: a fresh buffer
    e.result();
    expect(spareSampleBuffer()).toBe(700);
    d.result();
    expect(spareSampleBuffer()).toBe(5000);
    const f = filled(1000); // borrows the 5000
    const g = filled(700); // a fresh one
    f.result();
    g.result(); // the smaller does not replace the larger
    expect(spareSampleBuffer()).toBe(5000);
    expect(holder.result().nFinite).toBe(0);
  });

  it('result() is final: the same object again, unchanged by the next accumulator; no pixels after it', () => {
    const acc = new StatsAccumulator(5000);
    acc.add(plane(5000, 9, 3));
    const r = acc.result();
    const copy = { ...r };
    const next = new StatsAccumulator(5000);
    next.add(plane(5000, 10, -3));
    expect(next.result().median).toBeLessThan(0);
    expect(acc.result()).toBe(r);
    expect(r).toEqual(copy);
    expect(() => acc.add(new Float32Array(1))).toThrow('pixels added after result()');
  });

  it('renders of different sizes in turn give each file the statistics of a fresh process', () => {
    const files = [
      [700, 500, 1],
      [61, 47, 2],
      [700, 500, 1],
      [333, 9, 3],
    ].map(([nx, ny, seed]) => {
      const px = plane(nx * ny, seed, seed * 10);
      const f = path.join(dir, `reuse-${nx}x${ny}.fits`);
      writeFitsImage({ path: f, bitpix: -32, axes: [nx, ny], row: (y) => px.subarray(y * nx, (y + 1) * nx) });
      return { f, px };
    });
    for (const { f, px } of files) {
      const s = renderThumbnail(f, { stats: true, maxDim: 32 }).stats!;
      expect([s.median, s.madStd]).toEqual(Object.values(byHand(px)));
    }
  });
});
