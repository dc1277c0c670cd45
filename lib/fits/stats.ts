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

/*
 * The sample buffer (8 MB for 1M samples) is reused from one accumulator to the next in the same thread: a
 * fresh typed array that size cost 10-30 ms per render on this machine (zeroed pages faulted in, then
 * garbage collected), a quarter of a 4096² render. One spare is kept (the largest returned); an accumulator
 * takes it when it is big enough, else allocates, and gives its buffer back when its result is taken (two
 * accumulators alive at once, as in the mosaic QA, simply do not share). Each works on a view of exactly the
 * size a fresh array had, and only samples[0..taken), which it wrote itself, are ever read: a larger
 * buffer's old samples never reach a smaller plane's statistics.
 */
let spare: Float64Array | undefined;
const EMPTY = new Float64Array(0);

function takeBuffer(n: number): Float64Array {
  const s = spare;
  if (s !== undefined && s.length >= n) {
    spare = undefined;
    return s;
  }
  return new Float64Array(n);
}

function giveBack(buf: Float64Array): void {
  // Stryker disable next-line EqualityOperator: >= only swaps a spare for another of the same length
  if (spare === undefined || buf.length > spare.length) spare = buf;
}

/** The length of the spare sample buffer this thread keeps (0 for none): for tests of the reuse. */
export function spareSampleBuffer(): number {
  return spare?.length ?? 0;
}

export class StatsAccumulator {
  /** The moments; the fused downsampler adds to them directly (then calls sample() for the same pixels). */
  readonly moments = new Moments();
  /** Pixels seen (finite or not). */
  private seen = 0;
  private readonly stride: number;
  /** A buffer of at least the samples' size (possibly a larger spare), given back by result(). */
  private buffer: Float64Array;
  /** Its first ceil(totalPixels / stride) values: the most the plane can give, as a fresh array had. */
  private samples: Float64Array;
  private taken = 0;
  /** The result, once taken: the samples were reordered and overwritten by it and the buffer given back. */
  private final: PlaneStats | undefined;
  /** The dtype of the pixels (numpy computes float32 data's median in float32). */
  private dtype: Dtype = 'float64';
  /** Offset of the next sampled position in the next strip: every stride-th pixel of the plane is sampled. */
  private skip = 0;

  constructor(totalPixels: number, maxSamples = DEFAULT_STATS_SAMPLES) {
    this.stride = Math.max(1, Math.ceil(totalPixels / maxSamples));
    const size = Math.ceil(totalPixels / this.stride);
    this.buffer = takeBuffer(size);
    this.samples = this.buffer.subarray(0, size);
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
    this.taken = takeSamples(px, n, this.advance(n), this.stride, this.samples, this.taken);
  }

  /**
   * sample() over n raw big-endian float32 pixels (BITPIX −32 without scaling, pixel i at byte 4i): the
   * render's fused read decodes nothing beforehand (Downsampler.addBigEndianFloat32WithMoments).
   */
  sampleBigEndianFloat32(bytes: DataView, n: number): void {
    this.dtype = 'float32';
    this.taken = takeSamplesBigEndian(bytes, n, this.advance(n), this.stride, this.samples, this.taken);
  }

  /** Count n more pixels of the plane; the first sampled position among them (then the next strip's). */
  private advance(n: number): number {
    if (this.final) throw new Error('StatsAccumulator: pixels added after result()');
    this.seen += n;
    const start = this.skip;
    // The first sampled position of the next strip, counted from its start: the first sampled position at
    // or past n, minus n. start < stride, so a strip with n ≤ start has none and leaves start − n.
    const whole = Math.ceil((n - start) / this.stride) * this.stride;
    // Stryker disable next-line ArithmeticOperator: start − whole is negative and congruent to it modulo the stride; negative positions hold no pixel, so the samples are the same (the loop only starts further back)
    const next = start + whole;
    this.skip = next - n;
    return start;
  }

  /**
   * The statistics. The median and MAD are numpy's (np.median, in the data's dtype: float32 pixels give
   * float32 medians), found by selection in O(n): exactly what sorting would give. This ends the
   * accumulation (the sample buffer is given back for the next one); later calls return the same result.
   */
  result(): PlaneStats {
    if (this.final === undefined) {
      this.final = this.compute();
      giveBack(this.buffer);
      this.buffer = this.samples = EMPTY;
    }
    return this.final;
  }

  private compute(): PlaneStats {
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
    const madStd = 1.482602218505602 * medianInPlace(absDeviationsInPlace(s, median, dtype), dtype);
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

/** takeSamples over big-endian float32 bytes (pixel p at byte 4p). */
function takeSamplesBigEndian(
  bytes: DataView,
  n: number,
  start: number,
  stride: number,
  samples: Float64Array,
  taken: number,
): number {
  for (let p = start; p < n; p += stride) {
    const v = bytes.getFloat32(4 * p);
    if (v - v === 0) samples[taken++] = v;
  }
  return taken;
}

/**
 * numpy: abs(data − median) in the data's dtype (astropy's median_absolute_deviation takes its median), over
 * the samples themselves: once their median is known they are not needed again, and a second 8 MB array
 * cost as much as a fresh sample buffer (see takeBuffer). s is a subarray: i <= s.length writes nothing.
 */
function absDeviationsInPlace(s: Float64Array, median: number, dtype: Dtype): Float64Array {
  if (dtype === 'float32') {
    // Stryker disable next-line EqualityOperator: i <= s.length writes s[s.length], a no-op on a typed array
    for (let i = 0; i < s.length; i++) s[i] = Math.abs(Math.fround(s[i] - median));
  } else {
    // Stryker disable next-line EqualityOperator: as above
    for (let i = 0; i < s.length; i++) s[i] = Math.abs(s[i] - median);
  }
  return s;
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
