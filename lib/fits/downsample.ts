// NaN-aware downsampling of a plane streamed in row strips, in FITS row order (no flip here). Output size keeps
// the aspect ratio with the longer side = maxDim (or the input size when smaller). Bins have integer edges
// floor(i·n/out), so any input size gives exactly the requested output. An output pixel with no finite input
// is NaN. Only one output row of accumulators is held at a time.
import type { Pixels } from './decode.js';
import {
  addMeanMoments,
  addMeanMomentsBigEndian,
  firstFiniteBigEndian,
  meanFinite,
  meanFiniteBigEndian,
  type MeanBins,
} from './mean-moments.js';
import { addMoments, firstFinite, type Moments } from './moments.js';

export type DownsampleMode = 'mean' | 'max' | 'nearest';

/**
 * The output grid: the aspect ratio kept with the longer side = maxDim. With minDim, a side is never below
 * min(minDim, its input size): a strip longer than maxDim/minDim : 1 keeps a visible short side and gives up
 * the exact aspect ratio instead (mosaic thumbnails).
 */
export function outputSize(
  nx: number,
  ny: number,
  maxDim: number,
  minDim = 1,
): { width: number; height: number } {
  const m = Math.max(nx, ny);
  if (m <= maxDim) return { width: nx, height: ny };
  return {
    width: Math.max(Math.min(minDim, nx), 1, Math.round((nx * maxDim) / m)),
    height: Math.max(Math.min(minDim, ny), 1, Math.round((ny * maxDim) / m)),
  };
}

function edges(n: number, out: number): Int32Array {
  const e = new Int32Array(out + 1);
  for (let i = 0; i <= out; i++) e[i] = Math.floor((i * n) / out);
  return e;
}

export class Downsampler {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
  private readonly nx: number;
  private readonly mode: DownsampleMode;
  private readonly xe: Int32Array;
  private readonly ye: Int32Array;
  private readonly acc: Float64Array;
  private readonly cnt: Int32Array;
  /** xe, acc, cnt and width for the mean loops of mean-moments.ts. */
  private readonly bins: MeanBins;
  private row = 0;
  /** Finite input pixels seen (every one for mean and max; only the sampled ones for nearest). */
  nFinite = 0;

  constructor(nx: number, ny: number, maxDim: number, mode: DownsampleMode = 'mean', minDim = 1) {
    const { width, height } = outputSize(nx, ny, maxDim, minDim);
    this.width = width;
    this.height = height;
    this.nx = nx;
    this.mode = mode;
    this.xe = edges(nx, width);
    this.ye = edges(ny, height);
    this.data = new Float32Array(width * height);
    this.acc = new Float64Array(width);
    this.cnt = new Int32Array(width);
    this.bins = { xe: this.xe, acc: this.acc, cnt: this.cnt, width };
    this.reset();
  }

  private reset(): void {
    this.acc.fill(this.mode === 'max' ? -Infinity : 0);
    this.cnt.fill(0);
  }

  /** Feed rows y0..y0+nRows−1 (rows must arrive in order, each exactly once). */
  add(px: Pixels, y0: number, nRows: number): void {
    for (let r = 0; r < nRows; r++) {
      const y = this.beginRow(y0 + r);
      const off = r * this.nx;
      if (this.mode === 'nearest') this.addNearest(px, off, y);
      else if (this.mode === 'max') this.addMax(px, off);
      else this.addMean(px, off);
      this.endRow(y);
    }
  }

  /**
   * Mean mode, rows of raw big-endian float32 pixels (BITPIX −32 without scaling) straight from the read
   * buffer: decoding inside the sum saves a byte-swap pass over every strip (about 15 % of a 4096² render).
   * The values, and so the result, are bit for bit those of add() after decoding.
   */
  addBigEndianFloat32(bytes: DataView, y0: number, nRows: number): void {
    if (this.mode !== 'mean') throw new Error('Downsampler.addBigEndianFloat32 needs mode mean');
    for (let r = 0; r < nRows; r++) {
      const y = this.beginRow(y0 + r);
      this.addMeanBigEndian(bytes, r * this.nx);
      this.endRow(y);
    }
  }

  /**
   * add() with the plane's moments (min, max, sums) accumulated in the same loop, pixel by pixel in plane
   * order exactly as addMoments does, so the statistics are bit for bit those of a separate pass. In mean mode
   * the moments ride in the mean's own loop: its per-bin sum is a chain of dependent additions the CPU waits
   * on, and the moments' independent chains fill that wait, so they cost a fraction of a second pass.
   */
  addWithMoments(px: Pixels, y0: number, nRows: number, m: Moments): void {
    for (let r = 0; r < nRows; r++) {
      const y = this.beginRow(y0 + r);
      const off = r * this.nx;
      if (m.shift !== m.shift) m.shift = firstFinite(px, off, off + this.nx);
      if (this.mode === 'mean') addMeanMoments(this.bins, px, off, m);
      else {
        if (this.mode === 'nearest') this.addNearest(px, off, y);
        else this.addMax(px, off);
        addMoments(m, px, off, off + this.nx);
      }
      this.endRow(y);
    }
  }

  /**
   * addBigEndianFloat32 with the plane's moments in the mean's loop, as addWithMoments in mean mode: no
   * byte-swap pass over the strip, and bit for bit the grid and the moments of addWithMoments after decoding.
   */
  addBigEndianFloat32WithMoments(bytes: DataView, y0: number, nRows: number, m: Moments): void {
    if (this.mode !== 'mean') throw new Error('Downsampler.addBigEndianFloat32WithMoments needs mode mean');
    for (let r = 0; r < nRows; r++) {
      const y = this.beginRow(y0 + r);
      const off = r * this.nx;
      if (m.shift !== m.shift) m.shift = firstFiniteBigEndian(bytes, off, off + this.nx);
      addMeanMomentsBigEndian(this.bins, bytes, off, m);
      this.endRow(y);
    }
  }

  private beginRow(y: number): number {
    while (y >= this.ye[this.row + 1]) this.row++;
    return y;
  }

  private endRow(y: number): void {
    if (y + 1 === this.ye[this.row + 1]) this.emit();
  }

  /**
   * Per bin, first the plain sum in pixel order (unrolled by 8: no per-pixel branch, about twice as fast); when
   * it is finite every pixel was, and it equals the NaN-aware sum bit for bit (same additions, same order).
   * Only a bin holding a NaN or an infinity (or a float64 overflow) is summed again pixel by pixel.
   */
  private addMean(px: Pixels, off: number): void {
    const { xe, acc, cnt, width } = this;
    let i = off;
    for (let j = 0; j < width; j++) {
      const start = i;
      const end = off + xe[j + 1];
      const v0 = px[i];
      if (v0 - v0 !== 0) {
        // A bin starting with NaN (masked edges) is usually all NaN: straight to the checked sum.
        meanFinite(this.bins, px, start, end, j);
        i = end;
        continue;
      }
      let s = 0;
      for (; i + 7 < end; i += 8)
        s = s + px[i] + px[i + 1] + px[i + 2] + px[i + 3] + px[i + 4] + px[i + 5] + px[i + 6] + px[i + 7];
      for (; i < end; i++) s += px[i];
      if (s - s === 0) {
        acc[j] += s;
        cnt[j] += end - start;
      } else meanFinite(this.bins, px, start, end, j);
    }
  }

  /** addMean over big-endian float32 bytes (pixel i at byte 4i); see addMean. */
  private addMeanBigEndian(dv: DataView, off: number): void {
    const { xe, acc, cnt, width } = this;
    let i = off;
    for (let j = 0; j < width; j++) {
      const start = i;
      const end = off + xe[j + 1];
      const v0 = dv.getFloat32(4 * i);
      if (v0 - v0 !== 0) {
        meanFiniteBigEndian(this.bins, dv, start, end, j);
        i = end;
        continue;
      }
      let s = 0;
      for (; i + 7 < end; i += 8) {
        const b = 4 * i;
        s = s + dv.getFloat32(b) + dv.getFloat32(b + 4) + dv.getFloat32(b + 8) + dv.getFloat32(b + 12);
        s = s + dv.getFloat32(b + 16) + dv.getFloat32(b + 20) + dv.getFloat32(b + 24) + dv.getFloat32(b + 28);
      }
      for (; i < end; i++) s += dv.getFloat32(4 * i);
      if (s - s === 0) {
        acc[j] += s;
        cnt[j] += end - start;
      } else meanFiniteBigEndian(this.bins, dv, start, end, j);
    }
  }

  private addMax(px: Pixels, off: number): void {
    const { xe, acc, cnt, width } = this;
    for (let j = 0; j < width; j++) {
      let m = acc[j];
      let c = 0;
      const end = off + xe[j + 1];
      for (let i = off + xe[j]; i < end; i++) {
        const v = px[i];
        if (v - v === 0) {
          if (v > m) m = v;
          c++;
        }
      }
      acc[j] = m;
      cnt[j] += c;
    }
  }

  private addNearest(px: Pixels, off: number, y: number): void {
    const cy = (this.ye[this.row] + this.ye[this.row + 1]) >> 1;
    if (y !== cy) return;
    const { xe, acc, cnt, width } = this;
    for (let j = 0; j < width; j++) {
      const v = px[off + ((xe[j] + xe[j + 1]) >> 1)];
      acc[j] = v;
      cnt[j] = v - v === 0 ? 1 : 0;
    }
  }

  private emit(): void {
    const base = this.row * this.width;
    const { acc, cnt, data, width } = this;
    const mean = this.mode === 'mean';
    let n = 0;
    for (let j = 0; j < width; j++) {
      const c = cnt[j];
      n += c;
      data[base + j] = c === 0 ? NaN : mean ? acc[j] / c : acc[j];
    }
    this.nFinite += n;
    this.reset();
  }
}
