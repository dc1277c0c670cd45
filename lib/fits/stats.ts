// Plane statistics in one streaming pass. Which "rms" is which (thumbnail-worker.md §2.2):
// - std: population standard deviation of all finite pixels, sources included (the original's data_rms);
// - madStd: 1.4826 · median absolute deviation: the background noise, robust to sources. It and the median
//   are computed on every stride-th pixel (stride = ceil(nx·ny / maxSamples)), exact for planes up to
//   maxSamples pixels; on noise-dominated radio images the estimate is within a fraction of a percent;
// - dynamicRange: peakAbs / madStd (the QA grade's input).
import type { Pixels } from './decode.js';
import { percentileSorted } from './sorted.js';

export interface PlaneStats {
  nFinite: number;
  nNonFinite: number;
  min: number | null;
  max: number | null;
  sum: number;
  mean: number | null;
  std: number | null;
  median: number | null;
  madStd: number | null;
  peakAbs: number | null;
  dynamicRange: number | null;
  /** Pixels the median and MAD were computed on. */
  robustSamples: number;
}

export const DEFAULT_STATS_SAMPLES = 1 << 20;

export class StatsAccumulator {
  private nFinite = 0;
  private nNonFinite = 0;
  private min = Infinity;
  private max = -Infinity;
  private sum = 0;
  private shift = NaN;
  private sumD = 0;
  private sumD2 = 0;
  private readonly stride: number;
  private readonly samples: Float64Array;
  private taken = 0;
  private index = 0;

  constructor(totalPixels: number, maxSamples = DEFAULT_STATS_SAMPLES) {
    this.stride = Math.max(1, Math.ceil(totalPixels / maxSamples));
    this.samples = new Float64Array(Math.ceil(totalPixels / this.stride));
  }

  add(px: Pixels | ArrayLike<number>, n = px.length): void {
    const stride = this.stride;
    let idx = this.index;
    for (let i = 0; i < n; i++, idx++) {
      const v = px[i];
      if (v - v !== 0) {
        this.nNonFinite++;
        continue;
      }
      if (this.nFinite === 0) this.shift = v;
      this.nFinite++;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      this.sum += v;
      const d = v - this.shift;
      this.sumD += d;
      this.sumD2 += d * d;
      if (idx % stride === 0) this.samples[this.taken++] = v;
    }
    this.index = idx;
  }

  result(): PlaneStats {
    const n = this.nFinite;
    if (n === 0) {
      return {
        nFinite: 0,
        nNonFinite: this.nNonFinite,
        min: null,
        max: null,
        sum: 0,
        mean: null,
        std: null,
        median: null,
        madStd: null,
        peakAbs: null,
        dynamicRange: null,
        robustSamples: 0,
      };
    }
    const meanD = this.sumD / n;
    const std = Math.sqrt(Math.max(0, this.sumD2 / n - meanD * meanD));
    const s = this.samples.subarray(0, this.taken).sort();
    const median = percentileSorted(s, 50);
    const dev = new Float64Array(s.length);
    for (let i = 0; i < s.length; i++) dev[i] = Math.abs(s[i] - median);
    const madStd = 1.482602218505602 * percentileSorted(dev.sort(), 50);
    const peakAbs = Math.max(Math.abs(this.min), Math.abs(this.max));
    return {
      nFinite: n,
      nNonFinite: this.nNonFinite,
      min: this.min,
      max: this.max,
      sum: this.sum,
      mean: this.sum / n,
      std,
      median,
      madStd,
      peakAbs,
      dynamicRange: madStd > 0 ? peakAbs / madStd : null,
      robustSamples: s.length,
    };
  }
}

export type QaGrade = 'excellent' | 'good' | 'marginal' | 'poor' | 'unknown';

/**
 * The original's image grade: strict thresholds; a missing, zero or non-finite DR is unknown (a plane with
 * no noise, such as a constant one, has no dynamic range: never "excellent"), negative is poor.
 */
export function gradeDynamicRange(dr: number | null | undefined): QaGrade {
  if (dr === null || dr === undefined || !Number.isFinite(dr) || dr === 0) return 'unknown';
  if (dr > 1000) return 'excellent';
  if (dr > 100) return 'good';
  if (dr > 10) return 'marginal';
  return 'poor';
}
