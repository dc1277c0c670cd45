// The observation sequence of a planning run: every candidate with a known observation time and declination
// (eligible or not: a rejected image was still observed, so it does not open a gap), in time order, cut into
// runs at gaps longer than maxGapS and where the declination leaves the run's strip. A run's strip is its
// median declination to 0.1°.
import { median } from './describe.js';

export interface Observed<T> {
  item: T;
  obsMidMs: number;
  decDeg: number;
}

export interface Run<T> {
  id: number;
  stripDeg: number;
  members: Observed<T>[];
}

export function cutRuns<T>(
  observed: readonly Observed<T>[],
  o: { maxGapS: number; stripTolDeg: number },
): Run<T>[] {
  const sorted = [...observed].sort((a, b) => a.obsMidMs - b.obsMidMs);
  const runs: Run<T>[] = [];
  let cur: Observed<T>[] = [];
  const close = () => {
    if (!cur.length) return;
    const strip = Math.round(median(cur.map((m) => m.decDeg)) * 10) / 10;
    runs.push({ id: runs.length, stripDeg: strip, members: cur });
    cur = [];
  };
  for (const m of sorted) {
    const prev = cur[cur.length - 1];
    if (
      prev &&
      (m.obsMidMs - prev.obsMidMs > o.maxGapS * 1000 || Math.abs(m.decDeg - cur[0]!.decDeg) > o.stripTolDeg)
    )
      close();
    cur.push(m);
  }
  close();
  return runs;
}
