// Display intervals besides zscale: numpy-"linear" percentiles (by selection, not a full sort) and min/max.
import { percentileInPlace } from './sorted.js';
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

/** numpy.percentile(finite values, qs) with method "linear"; null when there is no finite value. */
export function percentile(values: ArrayLike<number>, qs: readonly number[]): number[] | null {
  const a = finiteCopy(values);
  if (a.length === 0) return null;
  return qs.map((q) => percentileInPlace(a, q));
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
