// UT1−UTC: the one time-scale term we cannot compute (|UT1−UTC| < 0.9 s by definition of UTC). It comes
// from configuration, either a constant or a local IERS finals2000A file parsed here from its text. Nothing
// is ever downloaded: an offline host must keep working, and the age of the table is reported instead.
import { MS_PER_DAY, unixMsFromMjd } from './time.js';

export interface Dut1Provider {
  readonly kind: 'constant' | 'iers';
  /** UT1−UTC in seconds at a UTC instant (the fallback constant outside the table). */
  valueAt(utcMs: number): number;
  /** Whether the instant is covered by the table (always true for a constant). */
  covers(utcMs: number): boolean;
  /** Days from the last measured (not predicted) value to nowMs; null for a constant. */
  ageDays(nowMs: number): number | null;
}

export function constantDut1(seconds: number): Dut1Provider {
  if (!(Math.abs(seconds) < 1)) throw new RangeError(`UT1−UTC must be within ±1 s, got ${seconds}`);
  return { kind: 'constant', valueAt: () => seconds, covers: () => true, ageDays: () => null };
}

export interface IersRow {
  mjd: number;
  dut1S: number;
  predicted: boolean;
}

/**
 * Parse finals2000A (finals.all / finals.daily / finals2000A.all) text. Fixed columns (1-based): MJD 8–15,
 * UT1 flag 58 (I = IERS measured, P = predicted), Bulletin A UT1−UTC 59–68; Bulletin B UT1−UTC 155–165 is
 * preferred when present. Lines without a UT1−UTC value (the far future) are skipped.
 */
export function parseFinals2000A(text: string): IersRow[] {
  const rows: IersRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.length < 68) continue;
    const mjd = Number(line.slice(7, 15));
    const a = line.slice(58, 68).trim();
    const b = line.length >= 165 ? line.slice(154, 165).trim() : '';
    const v = b !== '' ? Number(b) : a !== '' ? Number(a) : NaN;
    if (!Number.isFinite(mjd) || !Number.isFinite(v)) continue;
    rows.push({ mjd, dut1S: v, predicted: b === '' && line[57] === 'P' });
  }
  rows.sort((x, y) => x.mjd - y.mjd);
  return rows;
}

/**
 * A provider interpolating a finals2000A table linearly between daily values. Across a leap second
 * UT1−UTC jumps by 1 s; the later value is shifted by that second so the day before interpolates smoothly.
 */
export function iersDut1(rows: readonly IersRow[], fallbackS = 0): Dut1Provider {
  if (rows.length < 2) throw new RangeError('IERS table has fewer than two UT1−UTC rows');
  const ms = rows.map((r) => unixMsFromMjd(r.mjd));
  const lastMeasured = [...rows].reverse().find((r) => !r.predicted);
  const first = ms[0];
  const last = ms[ms.length - 1];
  const covers = (t: number): boolean => t >= first && t <= last;
  return {
    kind: 'iers',
    covers,
    valueAt(t: number): number {
      if (!covers(t)) return fallbackS;
      let lo = 0;
      let hi = ms.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (ms[mid] <= t) lo = mid;
        else hi = mid;
      }
      const v0 = rows[lo].dut1S;
      let v1 = rows[hi].dut1S;
      if (v1 - v0 > 0.5) v1 -= 1;
      else if (v1 - v0 < -0.5) v1 += 1;
      const f = ms[hi] === ms[lo] ? 0 : (t - ms[lo]) / (ms[hi] - ms[lo]);
      return v0 + f * (v1 - v0);
    },
    ageDays: (nowMs: number) =>
      lastMeasured ? (nowMs - unixMsFromMjd(lastMeasured.mjd)) / MS_PER_DAY : Number.POSITIVE_INFINITY,
  };
}
