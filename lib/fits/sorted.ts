// numpy "linear" percentile of an already sorted array.
export function percentileSorted(s: ArrayLike<number>, q: number): number {
  const n = s.length;
  if (n === 0) return NaN;
  const vi = ((n - 1) * q) / 100;
  const lo = Math.floor(vi);
  const t = vi - lo;
  const a = s[lo];
  const b = s[Math.min(n - 1, lo + 1)];
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}
