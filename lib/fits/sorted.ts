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

/**
 * numpy.median of finite values, in the data's dtype; may reorder a. NaN for an empty array. Large arrays go
 * through a histogram of their top key bits first (see middleCandidates): the same order statistics as a
 * selection over all of a, for a fraction of its cost.
 */
export function medianInPlace(a: Float64Array, dtype: Dtype): number {
  const n = a.length;
  // Stryker disable next-line ConditionalExpression: without it an empty array still gives NaN (midpoint of −∞ and a[0], undefined)
  if (n === 0) return NaN;
  const h = n >> 1;
  const lo = n % 2 === 1 ? h : h - 1;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: a speed choice only: the histogram's candidates and a selection over all of a give the same order statistics
  const c = n >= HISTOGRAM_MIN && LITTLE_ENDIAN ? middleCandidates(a, lo, h) : { values: a, below: 0 };
  return medianOfRanks(c.values, lo - c.below, h - c.below, dtype);
}

/** The value at rank hi of a (lo = hi for an odd count, hi − 1 for an even one) combined as numpy does. */
function medianOfRanks(a: Float64Array, lo: number, hi: number, dtype: Dtype): number {
  const upper = selectKth(a, hi);
  if (lo === hi) return upper;
  // After the selection a[0..hi−1] are the hi smallest: the value at rank hi − 1 is their maximum.
  let lower = -Infinity;
  for (let i = 0; i < hi; i++) if (a[i] > lower) lower = a[i];
  return midpoint(lower, upper, dtype);
}

/** Below this many values a plain selection is as fast as the histogram's two passes. */
const HISTOGRAM_MIN = 1 << 14;
// Stryker disable next-line ConditionalExpression,EqualityOperator,ArrayDeclaration: tests run little-endian; either value only picks one of two exact paths
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const BUCKETS = 1 << 16;
/** The buckets' counts, reused (a fresh 256 kB array cost 0.3-0.5 ms a median; zeroing this one 0.02 ms). */
const bucketCounts = new Uint32Array(BUCKETS);

/*
 * The bucket of a value is the top 16 bits of its order key: the IEEE bits with the sign bit flipped for
 * positive values and every bit flipped for negative ones, so keys sort as the numbers do (−0 just below
 * +0). From the float's upper 32 bits w: (w >>> 16) ^ (((w >> 31) & 0x7fff) | 0x8000), branch-free, since
 * noise around zero makes the sign unpredictable. It is written out in the two loops below, each a small
 * function of its own: V8 optimises such a loop with the whole function, where a long loop compiled
 * on-stack in a bigger function deoptimised on the code after it again on every call.
 */

function countBuckets(words: Uint32Array, counts: Uint32Array): void {
  // Stryker disable next-line EqualityOperator: i is odd and words.length even: i <= length adds no iteration
  for (let i = 1; i < words.length; i += 2) {
    const w = words[i];
    counts[(w >>> 16) ^ (((w >> 31) & 0x7fff) | 0x8000)]++;
  }
}

/**
 * The values of a (words: its 32-bit halves) whose bucket is in [first, last], into out. One unsigned
 * comparison, not `key >= first && key <= last`: the first half of that is true for about half the values, at
 * random, and its mispredicted branches made this pass 5× slower (4.7 against 0.9 ms over 760k samples).
 */
function collectBuckets(
  words: Uint32Array,
  a: Float64Array,
  first: number,
  last: number,
  out: Float64Array,
): void {
  const span = last - first;
  let k = 0;
  // Stryker disable next-line EqualityOperator: as in countBuckets
  for (let i = 1; i < words.length; i += 2) {
    const w = words[i];
    const key = (w >>> 16) ^ (((w >> 31) & 0x7fff) | 0x8000);
    // Below first, key − first wraps to a large unsigned number.
    if ((key - first) >>> 0 <= span) out[k++] = a[i >> 1];
  }
}

/**
 * The values of a whose key buckets lie between those of rank lo and rank hi (finite values, no NaN), and how
 * many values of a lie below them: one pass counts every bucket, a second copies out the few values of the
 * buckets that hold the wanted ranks. A selection among those gives exactly the order statistics of a.
 */
function middleCandidates(a: Float64Array, lo: number, hi: number): { values: Float64Array; below: number } {
  const words = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
  const counts = bucketCounts.fill(0);
  countBuckets(words, counts);
  const first = bucketOfRank(counts, lo, 0, 0);
  const last = bucketOfRank(counts, hi, first.bucket, first.below);
  const values = new Float64Array(last.below + counts[last.bucket] - first.below);
  collectBuckets(words, a, first.bucket, last.bucket, values);
  return { values, below: first.below };
}

/** The bucket holding rank `rank`, searching from bucket `from` with `below` values below it. */
function bucketOfRank(
  counts: Uint32Array,
  rank: number,
  from: number,
  below: number,
): { bucket: number; below: number } {
  let b = from;
  while (below + counts[b] <= rank) below += counts[b++];
  return { bucket: b, below };
}

/** Rearrange a[lo..hi] so that a[k] is the k-th smallest; returns a[k]. */
export function selectKth(a: Float64Array, k: number, lo = 0, hi = a.length - 1): number {
  // Stryker disable next-line EqualityOperator: a range of one (hi = lo) partitions to itself and breaks
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: median-of-three only picks the pivot: any pivot from the range selects the same value (speed only)
    if (a[mid] < a[lo]) [a[mid], a[lo]] = [a[lo], a[mid]];
    // Stryker disable next-line ConditionalExpression,EqualityOperator: as above
    if (a[hi] < a[lo]) [a[hi], a[lo]] = [a[lo], a[hi]];
    // Stryker disable next-line ConditionalExpression,EqualityOperator: as above
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
    else {
      // Stryker disable next-line ConditionalExpression: never breaking is slower only: for j < k < i, a[k] already holds its value, and partitioning [i, hi] never moves it
      if (k < i) break;
      lo = i;
    }
  }
  return a[k];
}

/** The smallest value of a[from..] (after selectKth(k) the k+1-th smallest is the minimum of the upper part). */
function minFrom(a: Float64Array, from: number): number {
  let m = Infinity;
  // Stryker disable next-line EqualityOperator: a[a.length] is undefined (never below m); of equal values any is the minimum
  for (let i = from; i < a.length; i++) if (a[i] < m) m = a[i];
  return m;
}

/**
 * numpy.percentile(a, q) with method "linear" for finite values; reorders a. NaN for an empty array.
 */
export function percentileInPlace(a: Float64Array, q: number): number {
  const n = a.length;
  // Stryker disable next-line ConditionalExpression: without it an empty array still gives NaN (from undefined)
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
