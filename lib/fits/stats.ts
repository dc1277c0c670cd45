// Plane statistics in one streaming pass. Which "rms" is which:
// - std: population standard deviation of all finite pixels, sources included (the original's data_rms);
// - madStd: 1.4826 · median absolute deviation: the background noise, robust to sources. It and the median
//   (numpy's, in the data's dtype) are computed on every stride-th pixel (stride = ceil(nx·ny / maxSamples)), exact for planes up to
//   maxSamples pixels; on noise-dominated radio images the estimate is within a fraction of a percent;
// - dynamicRange: peakAbs / madStd (the QA grade's input).
import type { Pixels } from './decode.js';
import { addMoments, Moments } from './moments.js';
import { medianInPlace, type Dtype } from './sorted.js';

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
  /** The moments; the fused downsampler adds to them directly (then calls sample() for the same pixels). */
  readonly moments = new Moments();
  /** Pixels seen (finite or not). */
  private seen = 0;
  private readonly stride: number;
  private readonly samples: Float64Array;
  private taken = 0;
  /** The dtype of the pixels (numpy computes float32 data's median in float32). */
  private dtype: Dtype = 'float64';
  /** Offset of the next sampled position in the next strip: every stride-th pixel of the plane is sampled. */
  private skip = 0;

  constructor(totalPixels: number, maxSamples = DEFAULT_STATS_SAMPLES) {
    this.stride = Math.max(1, Math.ceil(totalPixels / maxSamples));
    this.samples = new Float64Array(Math.ceil(totalPixels / this.stride));
  }

  /**
   * The next n pixels of the plane in memory order (strips may have any length): the moments in one tight
   * loop, then the sampled positions in a second, strided loop, so the statistics cost a few ns a pixel.
   */
  add(px: Pixels | ArrayLike<number>, n = px.length): void {
    addMoments(this.moments, px, 0, n);
    this.sample(px, n);
  }

  /**
   * The sampling half of add(): every stride-th pixel of the plane (counted across strips) for the median and
   * MAD. For a caller that added the same n pixels to `moments` itself.
   */
  sample(px: Pixels | ArrayLike<number>, n = px.length): void {
    this.dtype = px instanceof Float32Array ? 'float32' : 'float64';
    this.seen += n;
    const start = this.skip;
    this.taken = takeSamples(px, n, start, this.stride, this.samples, this.taken);
    // The first sampled position of the next strip, counted from its start: the first sampled position at
    // or past n, minus n. start < stride, so a strip with n ≤ start has none and leaves start − n.
    const whole = Math.ceil((n - start) / this.stride) * this.stride;
    // Stryker disable next-line ArithmeticOperator: start − whole is negative and congruent to it modulo the stride; negative positions hold no pixel, so the samples are the same (the loop only starts further back)
    const next = start + whole;
    this.skip = next - n;
  }

  /**
   * The statistics so far. The median and MAD are numpy's (np.median, in the data's dtype: float32 pixels
   * give float32 medians), found by selection in O(n): exactly what sorting would give.
   */
  result(): PlaneStats {
    const m = this.moments;
    const n = m.nFinite;
    const nNonFinite = this.seen - n;
    if (n === 0) {
      return {
        nFinite: 0,
        nNonFinite,
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
    const meanD = m.sumD / n;
    const std = Math.sqrt(Math.max(0, m.sumD2 / n - meanD * meanD));
    const s = this.samples.subarray(0, this.taken);
    const dtype = this.dtype;
    const median = medianInPlace(s, dtype);
    const madStd = 1.482602218505602 * medianInPlace(absDeviations(s, median, dtype), dtype);
    const peakAbs = Math.max(Math.abs(m.min), Math.abs(m.max));
    return {
      nFinite: n,
      nNonFinite,
      min: m.min,
      max: m.max,
      sum: m.sum,
      mean: m.sum / n,
      std,
      median,
      madStd,
      peakAbs,
      dynamicRange: madStd > 0 ? peakAbs / madStd : null,
      robustSamples: s.length,
    };
  }
}

/**
 * Copy the finite values at start, start + stride, … (below n) of px into samples from `taken`; returns the
 * new count. A small function of its own, so V8 optimises the loop with it (see addMoments).
 */
function takeSamples(
  px: Pixels | ArrayLike<number>,
  n: number,
  start: number,
  stride: number,
  samples: Float64Array,
  taken: number,
): number {
  for (let p = start; p < n; p += stride) {
    const v = px[p];
    if (v - v === 0) samples[taken++] = v;
  }
  return taken;
}

/** numpy: abs(data − median) in the data's dtype (astropy's median_absolute_deviation takes its median). */
function absDeviations(s: Float64Array, median: number, dtype: Dtype): Float64Array {
  const dev = new Float64Array(s.length);
  if (dtype === 'float32') {
    // Stryker disable next-line EqualityOperator: i <= s.length writes dev[s.length], a no-op on a typed array
    for (let i = 0; i < s.length; i++) dev[i] = Math.abs(Math.fround(s[i] - median));
  } else {
    // Stryker disable next-line EqualityOperator: as above
    for (let i = 0; i < s.length; i++) dev[i] = Math.abs(s[i] - median);
  }
  return dev;
}

export type QaGrade = 'excellent' | 'good' | 'marginal' | 'poor' | 'unknown';

/**
 * The original's image grade: strict thresholds; a missing, zero or non-finite DR is unknown (a plane with
 * no noise, such as a constant one, has no dynamic range: never "excellent"), negative is poor.
 */
export function gradeDynamicRange(dr: number | null | undefined): QaGrade {
  const v = dr ?? NaN;
  if (!Number.isFinite(v) || v === 0) return 'unknown';
  if (v > 1000) return 'excellent';
  if (v > 100) return 'good';
  if (v > 10) return 'marginal';
  return 'poor';
}
