// The downsampler's mean loop with the plane's moments in it (Downsampler.addWithMoments and
// addBigEndianFloat32WithMoments), over decoded pixels or over raw big-endian float32 bytes. Kept apart from
// downsample.ts for its length; each loop is a function of its own, which V8 optimises as a whole (see
// addMoments). Both add the moments pixel by pixel in plane order, exactly as addMoments does, and the
// mean's sums exactly as Downsampler.add does, so every statistic and every picture is the same bit for bit.
// The two loops differ only in how a pixel is read (a typed array's element, DataView.getFloat32): one
// function taking either would see both kinds of read at the same sites and V8 would optimise it for neither,
// as for Downsampler's addMean / addMeanBigEndian pair. Keep them in step: the tests compare them bit for bit.
import type { Pixels } from './decode.js';
import type { Moments } from './moments.js';

/** The bins of the output row being filled: edges xe (within a row), sums, finite counts, how many. */
export interface MeanBins {
  readonly xe: Int32Array;
  readonly acc: Float64Array;
  readonly cnt: Int32Array;
  readonly width: number;
}

/** Bin j's finite pixels px[start..end) into its sum and count, one by one (a bin holding NaN or ±∞). */
export function meanFinite(bins: MeanBins, px: Pixels, start: number, end: number, j: number): void {
  let s = 0;
  let c = 0;
  for (let i = start; i < end; i++) {
    const v = px[i];
    if (v - v === 0) {
      s += v;
      c++;
    }
  }
  bins.acc[j] += s;
  bins.cnt[j] += c;
}

/** meanFinite over big-endian float32 bytes (pixel i at byte 4i). */
export function meanFiniteBigEndian(
  bins: MeanBins,
  dv: DataView,
  start: number,
  end: number,
  j: number,
): void {
  // Skip a leading run of NaN/infinity by its exponent bits (all ones), twice as fast as decoding it: masked
  // edges are whole bins of NaN. Skipping them leaves acc and cnt as adding 0 would (acc is never −0).
  let i = start;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: skipping fewer pixels (none) leaves them to the checked loop below, which adds nothing for them either
  while (i < end && (dv.getUint32(4 * i) & 0x7f800000) === 0x7f800000) i++;
  // Stryker disable next-line ConditionalExpression: the loop below adds nothing from i = end
  if (i === end) return;
  let s = 0;
  let c = 0;
  for (; i < end; i++) {
    const v = dv.getFloat32(4 * i);
    if (v - v === 0) {
      s += v;
      c++;
    }
  }
  bins.acc[j] += s;
  bins.cnt[j] += c;
}

/** The first finite pixel of big-endian float32 bytes [from..to), or NaN (firstFinite's twin). */
export function firstFiniteBigEndian(dv: DataView, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const v = dv.getFloat32(4 * i);
    if (v - v === 0) return v;
  }
  return NaN;
}

/**
 * Downsampler.addMean and addMoments in one loop over a row. The mean's sums are addMean's (per bin, in pixel
 * order; a bin holding a non-finite pixel is summed again by meanFinite). The moments are added pixel by
 * pixel in plane order: eight at a time without checks, and when a non-finite pixel made the sum non-finite,
 * the eight are undone (min and max ignore NaN but not an infinity, so they are restored too) and added again
 * one by one, skipping the non-finite ones. A bin that starts non-finite (masked edges) takes the checked
 * loop for both at once. The mean's per-bin sum is a chain of dependent additions the CPU waits on; the
 * moments' independent chains fill that wait, so they cost a fraction of a second pass.
 */
export function addMeanMoments(bins: MeanBins, px: Pixels, off: number, m: Moments): void {
  const { xe, acc, cnt, width } = bins;
  const shift = m.shift;
  let { nFinite, min, max, sum, sumD, sumD2 } = m;
  let i = off;
  // Stryker disable next-line EqualityOperator: a bin j = width has no edge (end NaN): no pixel, and its writes land past the typed arrays' ends
  for (let j = 0; j < width; j++) {
    const start = i;
    const end = off + xe[j + 1];
    const first = px[i];
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator,BlockStatement: a speed path only: the unrolled loop and its checks give the same sums and moments for such a bin
    if (first - first !== 0) {
      let s = 0;
      let c = 0;
      for (; i < end; i++) {
        const v = px[i];
        if (v - v !== 0) continue;
        s += v;
        c++;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        const d = v - shift;
        sumD += d;
        sumD2 += d * d;
      }
      acc[j] += s;
      cnt[j] += c;
      nFinite += c;
      continue;
    }
    let s = 0;
    // Stryker disable next-line ConditionalExpression: without the unrolled loop the tail's checked loop adds every pixel, the same sums in the same order
    for (; i + 7 < end; i += 8) {
      const v0 = px[i];
      const v1 = px[i + 1];
      const v2 = px[i + 2];
      const v3 = px[i + 3];
      const v4 = px[i + 4];
      const v5 = px[i + 5];
      const v6 = px[i + 6];
      const v7 = px[i + 7];
      s = s + v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
      const sum0 = sum;
      const sumD0 = sumD;
      const sumD20 = sumD2;
      const min0 = min;
      const max0 = max;
      let d = v0 - shift;
      sum += v0;
      sumD += d;
      sumD2 += d * d;
      d = v1 - shift;
      sum += v1;
      sumD += d;
      sumD2 += d * d;
      d = v2 - shift;
      sum += v2;
      sumD += d;
      sumD2 += d * d;
      d = v3 - shift;
      sum += v3;
      sumD += d;
      sumD2 += d * d;
      d = v4 - shift;
      sum += v4;
      sumD += d;
      sumD2 += d * d;
      d = v5 - shift;
      sum += v5;
      sumD += d;
      sumD2 += d * d;
      d = v6 - shift;
      sum += v6;
      sumD += d;
      sumD2 += d * d;
      d = v7 - shift;
      sum += v7;
      sumD += d;
      sumD2 += d * d;
      if (v0 < min) min = v0;
      if (v0 > max) max = v0;
      if (v1 < min) min = v1;
      if (v1 > max) max = v1;
      if (v2 < min) min = v2;
      if (v2 > max) max = v2;
      if (v3 < min) min = v3;
      if (v3 > max) max = v3;
      if (v4 < min) min = v4;
      if (v4 > max) max = v4;
      if (v5 < min) min = v5;
      if (v5 > max) max = v5;
      if (v6 < min) min = v6;
      if (v6 > max) max = v6;
      if (v7 < min) min = v7;
      if (v7 > max) max = v7;
      // Stryker disable next-line ConditionalExpression,ArithmeticOperator,BlockStatement: a speed path only: the undo below adds the same eight again, one by one
      if (sum - sum === 0) {
        nFinite += 8;
        continue;
      }
      // A non-finite pixel among the eight (or a float64 overflow): undo, then add the finite ones.
      sum = sum0;
      sumD = sumD0;
      sumD2 = sumD20;
      min = min0;
      max = max0;
      for (let k = i; k < i + 8; k++) {
        const v = px[k];
        if (v - v !== 0) continue;
        nFinite++;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        const e = v - shift;
        sumD += e;
        sumD2 += e * e;
      }
    }
    for (; i < end; i++) {
      const v = px[i];
      s += v;
      if (v - v !== 0) continue;
      nFinite++;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      const d = v - shift;
      sumD += d;
      sumD2 += d * d;
    }
    // Stryker disable next-line ConditionalExpression,ArithmeticOperator: meanFinite sums the same finite pixels in the same order from 0 (and counts them all)
    if (s - s === 0) {
      acc[j] += s;
      cnt[j] += end - start;
    } else meanFinite(bins, px, start, end, j);
  }
  m.nFinite = nFinite;
  m.min = min;
  m.max = max;
  m.sum = sum;
  m.sumD = sumD;
  m.sumD2 = sumD2;
}

/**
 * addMeanMoments over the row's raw big-endian float32 bytes (BITPIX −32 without scaling; pixel i at byte
 * 4i), decoding as it sums: no byte-swap pass over the strip first (the render without statistics already
 * reads so). The same statements on the same values: the same result bit for bit.
 */
export function addMeanMomentsBigEndian(bins: MeanBins, dv: DataView, off: number, m: Moments): void {
  const { xe, acc, cnt, width } = bins;
  const shift = m.shift;
  let { nFinite, min, max, sum, sumD, sumD2 } = m;
  let i = off;
  // Stryker disable next-line EqualityOperator: a bin j = width has no edge (end NaN): no pixel, and its writes land past the typed arrays' ends
  for (let j = 0; j < width; j++) {
    const start = i;
    const end = off + xe[j + 1];
    const first = dv.getFloat32(4 * i);
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator,BlockStatement: a speed path only: the unrolled loop and its checks give the same sums and moments for such a bin
    if (first - first !== 0) {
      let s = 0;
      let c = 0;
      for (; i < end; i++) {
        const v = dv.getFloat32(4 * i);
        if (v - v !== 0) continue;
        s += v;
        c++;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        const d = v - shift;
        sumD += d;
        sumD2 += d * d;
      }
      acc[j] += s;
      cnt[j] += c;
      nFinite += c;
      continue;
    }
    let s = 0;
    // Stryker disable next-line ConditionalExpression: without the unrolled loop the tail's checked loop adds every pixel, the same sums in the same order
    for (; i + 7 < end; i += 8) {
      const p = 4 * i;
      const v0 = dv.getFloat32(p);
      const v1 = dv.getFloat32(p + 4);
      const v2 = dv.getFloat32(p + 8);
      const v3 = dv.getFloat32(p + 12);
      const v4 = dv.getFloat32(p + 16);
      const v5 = dv.getFloat32(p + 20);
      const v6 = dv.getFloat32(p + 24);
      const v7 = dv.getFloat32(p + 28);
      s = s + v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
      const sum0 = sum;
      const sumD0 = sumD;
      const sumD20 = sumD2;
      const min0 = min;
      const max0 = max;
      let d = v0 - shift;
      sum += v0;
      sumD += d;
      sumD2 += d * d;
      d = v1 - shift;
      sum += v1;
      sumD += d;
      sumD2 += d * d;
      d = v2 - shift;
      sum += v2;
      sumD += d;
      sumD2 += d * d;
      d = v3 - shift;
      sum += v3;
      sumD += d;
      sumD2 += d * d;
      d = v4 - shift;
      sum += v4;
      sumD += d;
      sumD2 += d * d;
      d = v5 - shift;
      sum += v5;
      sumD += d;
      sumD2 += d * d;
      d = v6 - shift;
      sum += v6;
      sumD += d;
      sumD2 += d * d;
      d = v7 - shift;
      sum += v7;
      sumD += d;
      sumD2 += d * d;
      if (v0 < min) min = v0;
      if (v0 > max) max = v0;
      if (v1 < min) min = v1;
      if (v1 > max) max = v1;
      if (v2 < min) min = v2;
      if (v2 > max) max = v2;
      if (v3 < min) min = v3;
      if (v3 > max) max = v3;
      if (v4 < min) min = v4;
      if (v4 > max) max = v4;
      if (v5 < min) min = v5;
      if (v5 > max) max = v5;
      if (v6 < min) min = v6;
      if (v6 > max) max = v6;
      if (v7 < min) min = v7;
      if (v7 > max) max = v7;
      // Stryker disable next-line ConditionalExpression,ArithmeticOperator,BlockStatement: a speed path only: the undo below adds the same eight again, one by one
      if (sum - sum === 0) {
        nFinite += 8;
        continue;
      }
      // A non-finite pixel among the eight (or a float64 overflow): undo, then add the finite ones.
      sum = sum0;
      sumD = sumD0;
      sumD2 = sumD20;
      min = min0;
      max = max0;
      for (let k = i; k < i + 8; k++) {
        const v = dv.getFloat32(4 * k);
        if (v - v !== 0) continue;
        nFinite++;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        const e = v - shift;
        sumD += e;
        sumD2 += e * e;
      }
    }
    for (; i < end; i++) {
      const v = dv.getFloat32(4 * i);
      s += v;
      if (v - v !== 0) continue;
      nFinite++;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      const d = v - shift;
      sumD += d;
      sumD2 += d * d;
    }
    // Stryker disable next-line ConditionalExpression,ArithmeticOperator: meanFinite sums the same finite pixels in the same order from 0 (and counts them all)
    if (s - s === 0) {
      acc[j] += s;
      cnt[j] += end - start;
    } else meanFiniteBigEndian(bins, dv, start, end, j);
  }
  m.nFinite = nFinite;
  m.min = min;
  m.max = max;
  m.sum = sum;
  m.sumD = sumD;
  m.sumD2 = sumD2;
}
