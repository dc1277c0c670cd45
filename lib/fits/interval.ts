// Display intervals besides zscale: numpy-"linear" percentiles (by selection, not a full sort) and min/max.
import { zscale, type Dtype, type ZscaleOptions } from './zscale.js';

export type IntervalName = 'zscale' | 'percentile' | 'minmax';

export interface IntervalOptions {
  interval: IntervalName;
  /** zscale contrast (astropy default 0.25; the DSA look uses 0.2). */
  contrast?: number;
  zscale?: Omit<ZscaleOptions, 'contrast'>;
  /** Percentile bounds, default 1 and 99.5 (the original's paths A and B). */
  lowPercent?: number;
  highPercent?: number;
}

function finiteCopy(values: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] === 0) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v === 0) out[k++] = v;
  }
  return out;
}

/** Rearrange a so that a[k] is the k-th smallest (Hoare quickselect, median-of-three pivots). */
function select(a: Float64Array, k: number, lo = 0, hi = a.length - 1): number {
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < a[lo]) [a[mid], a[lo]] = [a[lo], a[mid]];
    if (a[hi] < a[lo]) [a[hi], a[lo]] = [a[lo], a[hi]];
    if (a[hi] < a[mid]) [a[hi], a[mid]] = [a[mid], a[hi]];
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        [a[i], a[j]] = [a[j], a[i]];
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k];
}

/** The smallest value of a[from..] (after select(k) the k+1-th smallest is the minimum of the upper part). */
function minFrom(a: Float64Array, from: number): number {
  let m = Infinity;
  for (let i = from; i < a.length; i++) if (a[i] < m) m = a[i];
  return m;
}

/** numpy.percentile(finite values, qs) with method "linear"; null when there is no finite value. */
export function percentile(values: ArrayLike<number>, qs: readonly number[]): number[] | null {
  const a = finiteCopy(values);
  const n = a.length;
  if (n === 0) return null;
  return qs.map((q) => {
    const vi = ((n - 1) * q) / 100;
    const lo = Math.floor(vi);
    const t = vi - lo;
    const va = select(a, lo);
    const vb = lo + 1 < n ? minFrom(a, lo + 1) : va;
    // numpy's _lerp: a + d·t, or b − d·(1 − t) when t ≥ 0.5 (keeps monotonicity).
    const d = vb - va;
    return t >= 0.5 ? vb - d * (1 - t) : va + d * t;
  });
}

export function minmax(values: ArrayLike<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Limits [vmin, vmax] for values in FITS row order; null when no value is finite. */
export function computeLimits(
  values: ArrayLike<number>,
  opts: IntervalOptions,
  dtype: Dtype = 'float32',
): [number, number] | null {
  switch (opts.interval) {
    case 'zscale': {
      const r = zscale(values, { ...opts.zscale, contrast: opts.contrast ?? 0.25 }, dtype);
      return r ? [r.vmin, r.vmax] : null;
    }
    case 'percentile': {
      const r = percentile(values, [opts.lowPercent ?? 1, opts.highPercent ?? 99.5]);
      return r ? [r[0], r[1]] : null;
    }
    case 'minmax':
      return minmax(values);
  }
}
