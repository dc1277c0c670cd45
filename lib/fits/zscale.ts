// An exact port of astropy's ZScaleInterval (5.2; STScI numdisplay): sample every stride-th finite value in
// memory order (FITS row order: row 0 is the bottom), sort, fit a line with iterative k-sigma rejection and
// a dilated bad-pixel mask, and take limits around the median with the slope divided by the contrast.
// The median follows numpy's dtype: float32 data give a float32 median. Limits must be computed on
// un-flipped data: the sampling depends on the order.

import { midpoint, type Dtype } from './sorted.js';

export interface ZscaleOptions {
  nSamples?: number;
  contrast?: number;
  maxReject?: number;
  minNpixels?: number;
  krej?: number;
  maxIterations?: number;
}

export interface ZscaleResult {
  vmin: number;
  vmax: number;
  /** Samples used. */
  nSamples: number;
}

export type { Dtype } from './sorted.js';

const DEFAULTS = {
  nSamples: 1000,
  contrast: 0.25,
  maxReject: 0.5,
  minNpixels: 5,
  krej: 2.5,
  maxIterations: 5,
};

/** Streaming sampler: needs the finite count up front (a first pass), then takes every stride-th finite value. */
export class ZscaleSampler {
  readonly samples: Float64Array;
  private readonly stride: number;
  /** Finite values still to skip before the next sample (a countdown: no division per pixel). */
  private skip = 0;
  private taken = 0;

  constructor(nFinite: number, nSamples = DEFAULTS.nSamples) {
    this.stride = Math.trunc(Math.max(1, nFinite / nSamples));
    // astropy's values[::stride][:n_samples]: all of them below 2·n_samples (stride 1), else n_samples
    // (stride = ⌊nFinite / nSamples⌋ leaves at least nSamples of them).
    this.samples = new Float64Array(Math.min(nSamples, nFinite));
  }

  add(values: ArrayLike<number>, n = values.length): void {
    const { samples, stride } = this;
    const cap = samples.length;
    let { skip, taken } = this;
    for (let i = 0; i < n; i++) {
      // Stryker disable next-line ConditionalExpression,EqualityOperator: only stops early: past the last sample the writes are no-ops on a typed array and result() clamps to its length
      if (taken >= cap) break;
      const v = values[i];
      if (v - v !== 0) continue;
      if (skip === 0) {
        samples[taken++] = v;
        skip = stride;
      }
      skip--;
    }
    this.skip = skip;
    this.taken = taken;
  }

  result(): Float64Array {
    return this.samples.subarray(0, this.taken);
  }
}

function countFinite(values: ArrayLike<number>): number {
  let n = 0;
  // Stryker disable next-line EqualityOperator: values[values.length] is undefined, which is not finite
  for (let i = 0; i < values.length; i++) {
    if (values[i] - values[i] === 0) n++;
  }
  return n;
}

/** zscale limits of in-memory values; null when there is no finite value. */
export function zscale(
  values: ArrayLike<number>,
  opts: ZscaleOptions = {},
  dtype: Dtype = 'float64',
): ZscaleResult | null {
  const s = new ZscaleSampler(countFinite(values), opts.nSamples ?? DEFAULTS.nSamples);
  s.add(values);
  return zscaleFromSamples(s.result(), opts, dtype);
}

/** numpy.median of sorted samples in the data's dtype. */
function median(sorted: Float64Array, dtype: Dtype): number {
  const n = sorted.length;
  const h = n >> 1;
  return n % 2 === 1 ? sorted[h] : midpoint(sorted[h - 1], sorted[h], dtype);
}

/** Weighted (0/1) least-squares line through (i, samples[i]) over the good samples: [slope, intercept]. */
function fitLine(samples: Float64Array, bad: Uint8Array): [number, number] {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < samples.length; i++) {
    if (bad[i]) continue;
    n++;
    sx += i;
    sy += samples[i];
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < samples.length; i++) {
    if (bad[i]) continue;
    const dx = i - mx;
    sxx += dx * dx;
    // Stryker disable next-line ArithmeticOperator: the dx sum to 0, so dx·(y + my) sums to the same up to rounding
    sxy += dx * (samples[i] - my);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return [slope, my - slope * mx];
}

/** numpy convolve(mask, ones(ngrow), mode='same') on booleans: the window runs ngrow//2 before to (ngrow−1)//2 after. */
function dilate(bad: Uint8Array, ngrow: number): Uint8Array {
  const n = bad.length;
  const out = new Uint8Array(n);
  const before = ngrow >> 1;
  const after = (ngrow - 1) >> 1;
  // Stryker disable next-line EqualityOperator: bad[n] is undefined: nothing more to dilate
  for (let i = 0; i < n; i++) {
    // The window from i − after to i + before (fill() clamps its end to the array).
    if (bad[i]) out.fill(1, Math.max(0, i - after), i + before + 1);
  }
  return out;
}

/** One rejection pass: returns the new mask (residual beyond krej·std, then dilated). */
function rejectPass(
  samples: Float64Array,
  bad: Uint8Array,
  fit: [number, number],
  krej: number,
  ngrow: number,
): Uint8Array {
  const npix = samples.length;
  const flat = new Float64Array(npix);
  let n = 0;
  let sum = 0;
  for (let i = 0; i < npix; i++) {
    flat[i] = samples[i] - (fit[0] * i + fit[1]);
    if (!bad[i]) {
      n++;
      // The residuals of a least-squares line (with an intercept) over the samples it was fitted to sum
      // to 0, so their mean is 0 up to rounding: a mutant of the mean changes the threshold by ~1e-15.
      // Stryker disable next-line AssignmentOperator: see above
      sum += flat[i];
    }
  }
  // Stryker disable next-line ArithmeticOperator: see above
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < npix; i++) {
    // Stryker disable next-line ArithmeticOperator: see above
    if (!bad[i]) ss += (flat[i] - mean) ** 2;
  }
  const threshold = krej * Math.sqrt(ss / n);
  const next = Uint8Array.from(bad);
  // Stryker disable next-line EqualityOperator: flat[npix] is undefined, beyond no threshold
  for (let i = 0; i < npix; i++) {
    if (flat[i] < -threshold || flat[i] > threshold) next[i] = 1;
  }
  return dilate(next, ngrow);
}

/** The zscale algorithm on the samples (in sampling order; sorted here). */
export function zscaleFromSamples(
  samplesIn: Float64Array,
  opts: ZscaleOptions = {},
  dtype: Dtype = 'float64',
): ZscaleResult | null {
  const o = { ...DEFAULTS, ...opts };
  const npix = samplesIn.length;
  if (npix === 0) return null;
  const samples = Float64Array.from(samplesIn).sort();
  let vmin = samples[0];
  let vmax = samples[npix - 1];
  const minpix = Math.max(o.minNpixels, Math.trunc(npix * o.maxReject));
  const ngrow = Math.max(1, Math.trunc(npix * 0.01));
  let bad: Uint8Array = new Uint8Array(npix);
  let ngood = npix;
  let lastNgood = npix + 1;
  let fit: [number, number] = [0, 0];
  for (let it = 0; it < o.maxIterations; it++) {
    // The mask only grows (rejected samples stay rejected, dilation only adds), so an unchanged count is an
    // unchanged mask, and another pass would fit the same line again: the stop only saves the passes.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: see above
    if (ngood >= lastNgood) break;
    // Stryker disable next-line ConditionalExpression: below minpix the count only falls further and the fit is not used: the stop only saves passes
    if (ngood < minpix) break;
    fit = fitLine(samples, bad);
    bad = rejectPass(samples, bad, fit, o.krej, ngrow);
    lastNgood = ngood;
    ngood = 0;
    for (let i = 0; i < npix; i++) if (!bad[i]) ngood++;
  }
  if (ngood >= minpix) {
    let slope = fit[0];
    if (o.contrast > 0) slope /= o.contrast;
    const center = Math.floor((npix - 1) / 2);
    const med = median(samples, dtype);
    vmin = Math.max(vmin, med - (center - 1) * slope);
    vmax = Math.min(vmax, med + (npix - center) * slope);
  }
  return { vmin, vmax, nSamples: npix };
}
