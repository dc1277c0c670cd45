// The pause between two tries of BEGIN IMMEDIATE while db.write waits for the write lock: 50 µs doubling to
// 1 ms while the wait is young, every 50 µs once it has aged (so the longest waiter is the likeliest to find
// the lock free when it changes hands all the time), back to 1 ms once the lock is plainly held, ±50 %.
import { describe, expect, it } from 'vitest';
import { AGED_AFTER_MS, AGED_UNTIL_MS, pollDelayMs } from '../../../lib/db/write-lock.js';

const mid = () => 0.5; // no jitter: the base delay itself

describe('pollDelayMs', () => {
  it('a young wait backs off: 50 µs doubling to 1 ms', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => pollDelayMs(n, 0.5, mid))).toEqual([
      0.05, 0.1, 0.2, 0.4, 0.8, 1, 1,
    ]);
  });

  it('an aged wait polls every 50 µs again, however many tries it has made', () => {
    for (const waited of [AGED_AFTER_MS, 10, AGED_UNTIL_MS - 0.01])
      expect(pollDelayMs(40, waited, mid), `waited ${waited} ms`).toBe(0.05);
    expect(pollDelayMs(40, AGED_AFTER_MS - 0.01, mid)).toBe(1);
  });

  it('a wait past AGED_UNTIL_MS polls every millisecond: the lock is held, not changing hands', () => {
    for (const waited of [AGED_UNTIL_MS, 200, 10_000]) expect(pollDelayMs(40, waited, mid)).toBe(1);
    // A long wait's first tries (a writeAsync try late in its wait) still start at 50 µs.
    expect(pollDelayMs(1, 500, mid)).toBe(0.05);
  });

  it('jitter is ±50 % of the base delay in every phase', () => {
    for (const [attempt, waited, base] of [
      [3, 0, 0.2],
      [40, 10, 0.05],
      [40, 100, 1],
    ]) {
      expect(pollDelayMs(attempt, waited, () => 0)).toBeCloseTo(base * 0.5, 12);
      expect(pollDelayMs(attempt, waited, () => 1)).toBeCloseTo(base * 1.5, 12);
    }
  });

  it('the ages docs/database.md gives: from 2 ms to 50 ms of waiting', () => {
    expect([AGED_AFTER_MS, AGED_UNTIL_MS]).toEqual([2, 50]);
  });
});
