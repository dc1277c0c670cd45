// NaN-aware downsampling of a plane streamed in row strips, in FITS row order (no flip here). Output size keeps
// the aspect ratio with the longer side = maxDim (or the input size when smaller). Bins have integer edges
// floor(i·n/out), so any input size gives exactly the requested output. An output pixel with no finite input
// is NaN. Only one output row of accumulators is held at a time.
import type { Pixels } from './decode.js';

export type DownsampleMode = 'mean' | 'max' | 'nearest';

export function outputSize(nx: number, ny: number, maxDim: number): { width: number; height: number } {
  const m = Math.max(nx, ny);
  if (m <= maxDim) return { width: nx, height: ny };
  return {
    width: Math.max(1, Math.round((nx * maxDim) / m)),
    height: Math.max(1, Math.round((ny * maxDim) / m)),
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
  private row = 0;
  /** Finite input pixels seen (every one for mean and max; only the sampled ones for nearest). */
  nFinite = 0;

  constructor(nx: number, ny: number, maxDim: number, mode: DownsampleMode = 'mean') {
    const { width, height } = outputSize(nx, ny, maxDim);
    this.width = width;
    this.height = height;
    this.nx = nx;
    this.mode = mode;
    this.xe = edges(nx, width);
    this.ye = edges(ny, height);
    this.data = new Float32Array(width * height);
    this.acc = new Float64Array(width);
    this.cnt = new Int32Array(width);
    this.reset();
  }

  private reset(): void {
    this.acc.fill(this.mode === 'max' ? -Infinity : 0);
    this.cnt.fill(0);
  }

  /** Feed rows y0..y0+nRows−1 (rows must arrive in order, each exactly once). */
  add(px: Pixels, y0: number, nRows: number): void {
    for (let r = 0; r < nRows; r++) {
      const y = y0 + r;
      while (y >= this.ye[this.row + 1]) this.row++;
      const off = r * this.nx;
      if (this.mode === 'nearest') this.addNearest(px, off, y);
      else if (this.mode === 'max') this.addMax(px, off);
      else this.addMean(px, off);
      if (y + 1 === this.ye[this.row + 1]) this.emit();
    }
  }

  private addMean(px: Pixels, off: number): void {
    const { xe, acc, cnt, width } = this;
    for (let j = 0; j < width; j++) {
      let s = 0;
      let c = 0;
      const end = off + xe[j + 1];
      for (let i = off + xe[j]; i < end; i++) {
        const v = px[i];
        if (v - v === 0) {
          s += v;
          c++;
        }
      }
      acc[j] += s;
      cnt[j] += c;
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
    for (let j = 0; j < width; j++) {
      const c = cnt[j];
      this.nFinite += c;
      data[base + j] = c === 0 ? NaN : this.mode === 'mean' ? acc[j] / c : acc[j];
    }
    this.reset();
  }
}
