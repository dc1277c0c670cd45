// The lock-wait measurements of bench/db-contention.ts: every write's wait, its tries of BEGIN IMMEDIATE and
// its hold of the lock, recorded in each bench process; then, in the parent, the long waits and the waits at
// or over the p99 taken apart against every process's holds (one long hold, or the lock passing from hand to
// hand past the waiter?).
import type { Connection, Db } from '../lib/db/index.js';

export interface ChildReport {
  cycles: number;
  escaped: Record<string, number>;
  waitsMs: number[];
  walBytes: number;
  /** The long waits (over LONG_WAIT_MS) of the polling lock wait, taken apart. */
  long: LongWait[];
  /**
   * Every write's hold of the lock, wall clock (ms since the epoch, µs resolution), three numbers per hold:
   * fn start, COMMIT start (done, if it did not commit), done. A hold and its COMMIT are read from these.
   */
  spans: number[];
  /** Every wait of at least TAIL_WAIT_MS, wall clock: what the lock did meanwhile is read from all spans. */
  tailWaits: TailWait[];
}

/** A wait in the tail: its wall-clock window, and this process's tries and longest gap between them. */
export interface TailWait {
  from: number;
  to: number;
  tries: number;
  maxGapMs: number;
}

/** A long lock wait: how often it tried, the longest gap between two tries (the process not running). */
export interface LongWait {
  waitMs: number;
  tries: number;
  maxGapMs: number;
}

export const LONG_WAIT_MS = 20;
/** Waits from here on are taken apart against every process's holds (the p99 at 4 processes is 4-10 ms). */
export const TAIL_WAIT_MS = 2;

/**
 * Time from calling db.write until its function runs: the lock wait (BEGIN IMMEDIATE has the lock then). For
 * the polling wait (after), also every try of BEGIN IMMEDIATE, so a long wait can be told apart: many tries
 * that found the lock taken (unfair), or long gaps between tries (the process was not running), and the hold
 * and COMMIT times of every write (is anyone holding the lock long: a checkpoint, an fsync?).
 */
export function measureLockWait(
  db: Db,
  report: Pick<ChildReport, 'waitsMs' | 'long' | 'spans' | 'tailWaits'>,
): void {
  const origin = performance.timeOrigin;
  const tries: number[] = [];
  let commitStart = 0;
  const lock = (db as unknown as { lock?: { tryBegin(): boolean; commit(): void } }).lock;
  if (lock) {
    const tryBegin = lock.tryBegin.bind(lock);
    lock.tryBegin = () => {
      tries.push(performance.now());
      return tryBegin();
    };
    const commit = lock.commit.bind(lock);
    lock.commit = () => {
      commitStart = performance.now();
      commit();
    };
  }
  const write = db.write.bind(db);
  db.write = <T>(fn: (c: Connection) => T): T => {
    tries.length = 0;
    const t0 = performance.now();
    let t1 = t0;
    commitStart = 0;
    try {
      return write((c) => {
        t1 = performance.now();
        const waitMs = t1 - t0;
        report.waitsMs.push(waitMs);
        if (waitMs >= TAIL_WAIT_MS) {
          let maxGapMs = 0;
          let prev = t0;
          for (const t of [...tries, t1]) {
            maxGapMs = Math.max(maxGapMs, t - prev);
            prev = t;
          }
          if (waitMs > LONG_WAIT_MS) report.long.push({ waitMs, tries: tries.length, maxGapMs });
          report.tailWaits.push({ from: origin + t0, to: origin + t1, tries: tries.length, maxGapMs });
        }
        return fn(c);
      });
    } finally {
      const end = performance.now();
      report.spans.push(origin + t1, origin + (commitStart || end), origin + end);
    }
  };
}

/**
 * The long waits taken apart, and the longest hold and COMMIT: for the polling wait only (`polling`), the
 * busy handler's path neither tries nor commits through the lock object measureLockWait times.
 */
export function longWaits(all: ChildReport[], polling: boolean): string {
  const long = all.flatMap((r) => r.long).sort((a, b) => b.waitMs - a.waitMs);
  if (!polling) return `waits > ${LONG_WAIT_MS} ms: ${long.length}`;
  let longestHold = 0;
  let longestCommit = 0;
  for (const { spans } of all)
    for (let i = 0; i < spans.length; i += 3) {
      longestHold = Math.max(longestHold, spans[i + 2] - spans[i]);
      longestCommit = Math.max(longestCommit, spans[i + 2] - spans[i + 1]);
    }
  const worst = long
    .slice(0, 3)
    .map((w) => `${w.waitMs.toFixed(0)} ms: ${w.tries} tries, longest gap ${w.maxGapMs.toFixed(1)} ms`)
    .join('; ');
  return (
    `waits > ${LONG_WAIT_MS} ms: ${long.length}${worst ? ` (${worst})` : ''}; ` +
    `longest hold ${longestHold.toFixed(1)} ms, longest COMMIT ${longestCommit.toFixed(1)} ms`
  );
}

/**
 * The waits at or over the p99, against every process's holds of the lock during each: was the lock with one
 * other holder for most of the wait (a holder off its core, or a long COMMIT), did it pass from hand to hand
 * past this waiter (unfairness), or was it free while this waiter did not try (the waiter off its core)?
 */
export function tailWaits(all: ChildReport[], p99: number): string {
  const holds: { proc: number; from: number; commit: number; to: number }[] = [];
  all.forEach((r, proc) => {
    for (let i = 0; i < r.spans.length; i += 3)
      holds.push({ proc, from: r.spans[i], commit: r.spans[i + 1], to: r.spans[i + 2] });
  });
  if (holds.length === 0) return '';
  holds.sort((a, b) => a.from - b.from);
  const starts = holds.map((h) => h.from);
  const longestHold = holds.reduce((m, h) => Math.max(m, h.to - h.from), 0);
  const tail = all.flatMap((r, proc) =>
    r.tailWaits.filter((w) => w.to - w.from >= p99).map((w) => ({ ...w, proc })),
  );
  if (tail.length === 0) return `no waits ≥ the p99 (${p99.toFixed(1)} ms) of ${TAIL_WAIT_MS} ms or more`;
  let oneHolder = 0;
  /** Of the one long hold in such a wait: how much of it was its COMMIT (the rest: the body, off its core). */
  const commitShare: number[] = [];
  const handovers: number[] = [];
  const freeShare: number[] = [];
  const gaps: number[] = [];
  for (const w of tail) {
    // Holds that began before the wait ended; the first candidates can start up to one longest hold earlier.
    let i = lowerBound(starts, w.from - longestHold);
    let covered = 0;
    let longest = 0;
    let longestHoldOf: (typeof holds)[number] | undefined;
    let count = 0;
    for (; i < holds.length && holds[i].from < w.to; i++) {
      const h = holds[i];
      if (h.proc === w.proc || h.to <= w.from) continue;
      const overlap = Math.min(h.to, w.to) - Math.max(h.from, w.from);
      covered += overlap;
      if (overlap > longest) [longest, longestHoldOf] = [overlap, h];
      count++;
    }
    const waitMs = w.to - w.from;
    if (longest >= waitMs / 2 && longestHoldOf) {
      oneHolder++;
      const h = longestHoldOf;
      commitShare.push((h.to - h.commit) / (h.to - h.from));
    }
    handovers.push(count);
    freeShare.push(Math.max(0, 1 - covered / waitMs));
    gaps.push(w.maxGapMs);
  }
  const at = (xs: number[], p: number): number =>
    percentile(
      [...xs].sort((a, b) => a - b),
      p,
    );
  const med = (xs: number[]): number => at(xs, 50);
  return (
    `waits ≥ p99 (${tail.length}): one other hold for half of it or more in ${pctOf(oneHolder, tail.length)}` +
    (commitShare.length ? ` (its COMMIT median ${(med(commitShare) * 100).toFixed(0)} % of it); ` : '; ') +
    `holds by others during it median ${med(handovers)} (p90 ${at(handovers, 90)}); ` +
    `lock free median ${(med(freeShare) * 100).toFixed(0)} % of the wait; ` +
    `the waiter's longest gap between tries median ${med(gaps).toFixed(1)} ms`
  );
}

function pctOf(n: number, of: number): string {
  return `${((n / of) * 100).toFixed(0)} %`;
}

/** The first index whose value is ≥ x in ascending xs. */
function lowerBound(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
