// numpy's median and "linear" percentiles by selection (Hoare quickselect, median-of-three pivots) instead of
// a full sort: O(n) and, for the same values, exactly the numbers a sort would give (the same order
// statistics, combined as numpy combines them).

/** The dtype numpy would compute in: float32 data give float32 medians. */
export type Dtype = 'float32' | 'float64';

/**
 * numpy.median's value between the two middle values of an even-length sample: their mean in the data's
 * dtype (for float32 the sum and the halving are float32, so a sum near the float32 maximum overflows).
 */
export function midpoint(a: number, b: number, dtype: Dtype): number {
  return dtype === 'float32' ? Math.fround(Math.fround(a + b) / 2) : (a + b) / 2;
}

/** numpy.median of finite values, in the data's dtype; reorders a. NaN for an empty array. */
export function medianInPlace(a: Float64Array, dtype: Dtype): number {
  const n = a.length;
  if (n === 0) return NaN;
  const h = n >> 1;
  const upper = selectKth(a, h);
  if (n % 2 === 1) return upper;
  // After the selection a[0..h−1] are the h smallest: the (h−1)-th smallest is their maximum.
  let lower = -Infinity;
  for (let i = 0; i < h; i++) if (a[i] > lower) lower = a[i];
  return midpoint(lower, upper, dtype);
}

/** Rearrange a[lo..hi] so that a[k] is the k-th smallest; returns a[k]. */
export function selectKth(a: Float64Array, k: number, lo = 0, hi = a.length - 1): number {
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

/** The smallest value of a[from..] (after selectKth(k) the k+1-th smallest is the minimum of the upper part). */
function minFrom(a: Float64Array, from: number): number {
  let m = Infinity;
  for (let i = from; i < a.length; i++) if (a[i] < m) m = a[i];
  return m;
}

/**
 * numpy.percentile(a, q) with method "linear" for finite values; reorders a. NaN for an empty array.
 */
export function percentileInPlace(a: Float64Array, q: number): number {
  const n = a.length;
  if (n === 0) return NaN;
  const vi = ((n - 1) * q) / 100;
  const lo = Math.floor(vi);
  const t = vi - lo;
  const va = selectKth(a, lo);
  const vb = lo + 1 < n ? minFrom(a, lo + 1) : va;
  // numpy's _lerp: a + d·t, or b − d·(1 − t) when t ≥ 0.5 (keeps monotonicity).
  const d = vb - va;
  return t >= 0.5 ? vb - d * (1 - t) : va + d * t;
}
