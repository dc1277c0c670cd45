// The running moments of a plane's finite pixels (count, min, max, sum, and the shifted sums behind the
// standard deviation), added one pixel at a time in plane order. The order is part of the definition: the
// downsampler's fused mean loop (Downsampler.addWithMoments) adds the same pixels in the same order as
// addMoments below, so `contimg fits stats` and the daemon's render give the same numbers bit for bit.
import type { Pixels } from './decode.js';

export class Moments {
  nFinite = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;
  /**
   * The first finite pixel of the plane: the deviations are summed about it, so a large offset (1e8 plus unit
   * noise) does not cancel in sumD2 / n − (sumD / n)² (NaN until a finite pixel was seen).
   */
  shift = NaN;
  sumD = 0;
  sumD2 = 0;
}

/** The first finite value of px[from..to), or NaN. */
export function firstFinite(px: Pixels | ArrayLike<number>, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const v = px[i];
    if (v - v === 0) return v;
  }
  return NaN;
}

/**
 * Add px[from..to) to m, pixel by pixel. A small function of its own (not inlined in a longer method): V8
 * then optimises it as a whole, where a long loop compiled on-stack mid-way through a bigger function
 * deoptimised again and again on the code after it, costing 3-4× on a cold render thread.
 */
export function addMoments(m: Moments, px: Pixels | ArrayLike<number>, from: number, to: number): void {
  if (m.shift !== m.shift) m.shift = firstFinite(px, from, to);
  const shift = m.shift;
  let { nFinite, min, max, sum, sumD, sumD2 } = m;
  for (let i = from; i < to; i++) {
    const v = px[i];
    if (v - v !== 0) continue;
    nFinite++;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    const d = v - shift;
    sumD += d;
    sumD2 += d * d;
  }
  m.nFinite = nFinite;
  m.min = min;
  m.max = max;
  m.sum = sum;
  m.sumD = sumD;
  m.sumD2 = sumD2;
}
