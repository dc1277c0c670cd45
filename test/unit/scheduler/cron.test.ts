// The cron arithmetic behind catch-up and lateness, with instants given explicitly (the injected clock).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import {
  cronProblem,
  nextFireMs,
  nthPreviousFireMs,
  previousFireMs,
  shortestPeriodMs,
} from '../../../lib/cron.js';
import { catchUpSlot } from '../../../daemons/scheduler/scheduler.js';
import { failingStreak, isLate } from '../../../daemons/scheduler/watchdog.js';

const T = (iso: string): number => Date.parse(iso);

describe('cron arithmetic (UTC)', () => {
  it('finds the slot at or before an instant, the n-th before it, and the next one', () => {
    expect(previousFireMs('*/5 * * * *', T('2026-01-01T12:07:30Z'))).toBe(T('2026-01-01T12:05:00Z'));
    // An instant exactly on a slot is that slot.
    expect(previousFireMs('*/5 * * * *', T('2026-01-01T12:05:00Z'))).toBe(T('2026-01-01T12:05:00Z'));
    expect(nthPreviousFireMs('*/5 * * * *', T('2026-01-01T12:07:30Z'), 3)).toBe(T('2026-01-01T11:55:00Z'));
    expect(nextFireMs('*/5 * * * *', T('2026-01-01T12:05:00Z'))).toBe(T('2026-01-01T12:10:00Z'));
    expect(previousFireMs('30 3 * * *', T('2026-01-01T02:00:00Z'))).toBe(T('2025-12-31T03:30:00Z'));
    expect(nextFireMs('*/2 * * * * *', T('2026-01-01T12:07:31Z'))).toBe(T('2026-01-01T12:07:32Z'));
  });

  it('measures the shortest period, and rejects bad expressions with the reason', () => {
    expect(shortestPeriodMs('*/5 * * * *')).toBe(300_000);
    expect(shortestPeriodMs('0 * * * *')).toBe(3_600_000);
    expect(shortestPeriodMs('30 3 * * *')).toBe(86_400_000);
    expect(shortestPeriodMs('0 9,10 * * *')).toBe(3_600_000);
    expect(shortestPeriodMs('*/3 * * * * *')).toBe(3_000);
    expect(cronProblem('*/5 * * * *')).toBeNull();
    expect(cronProblem('61 * * * *')).toMatch(/minute/);
    expect(cronProblem('* * *')).toMatch(/5 or 6 fields/);
    expect(cronProblem('every minute')).not.toBeNull();
  });

  it('counts fields however they are spaced: 5 or 6, never 4 or 7', () => {
    expect(cronProblem('  */5 * * * *  ')).toBeNull();
    expect(cronProblem('*/5  *   * * *')).toBeNull();
    expect(cronProblem('*/3 * * * * *')).toBeNull();
    expect(cronProblem('0 0 0 * * * *')).toBe('expected 5 or 6 fields, got 7');
    expect(cronProblem('0 * * *')).toBe('expected 5 or 6 fields, got 4');
  });

  it('says every field that is wrong, and what only the parser behind catch-up rejects', () => {
    expect(cronProblem('61 25 * * *')).toBe(
      'minute: 61 is a invalid expression for minute; hour: 25 is a invalid expression for hour',
    );
    // node-cron (which fires the triggers) accepts a reversed range; cron-parser (catch-up, lateness) does not.
    expect(cronProblem('5-1 * * * *')).toBe('Invalid range: 5-1, min(5) > max(1)');
  });

  it('an instant exactly on a slot is that slot for the n-th latest too', () => {
    expect(nthPreviousFireMs('*/5 * * * *', T('2026-01-01T12:05:00Z'), 1)).toBe(T('2026-01-01T12:05:00Z'));
    expect(nthPreviousFireMs('*/5 * * * *', T('2026-01-01T12:05:00Z'), 2)).toBe(T('2026-01-01T12:00:00Z'));
    // n below 1 is the latest slot.
    expect(nthPreviousFireMs('*/5 * * * *', T('2026-01-01T12:07:30Z'), 0)).toBe(T('2026-01-01T12:05:00Z'));
  });
});

describe('catch-up at start', () => {
  it('a job last successful 2 h ago catches up its latest slot; one that succeeded since does not', () => {
    const clock = new ManualClock(T('2026-01-01T12:07:30Z'));
    const twoHoursAgo = clock.now() - 2 * 3_600_000;
    expect(catchUpSlot('*/5 * * * *', twoHoursAgo, clock.now())).toBe(T('2026-01-01T12:05:00Z'));
    expect(catchUpSlot('0 * * * *', twoHoursAgo, clock.now())).toBe(T('2026-01-01T12:00:00Z'));
    expect(catchUpSlot('*/5 * * * *', null, clock.now())).toBe(T('2026-01-01T12:05:00Z'));
    // Succeeded at 12:05:01, after the 12:05 slot: nothing to catch up until 12:10.
    expect(catchUpSlot('*/5 * * * *', T('2026-01-01T12:05:01Z'), clock.now())).toBeNull();
    clock.advance(3 * 60_000);
    expect(catchUpSlot('*/5 * * * *', T('2026-01-01T12:05:01Z'), clock.now())).toBe(
      T('2026-01-01T12:10:00Z'),
    );
    // Daily retention that ran today at 03:30 is not due again in the afternoon.
    expect(catchUpSlot('30 3 * * *', T('2026-01-01T03:30:00Z'), clock.now())).toBeNull();
  });
});

describe('lateness and failure streaks', () => {
  const now = T('2026-01-01T12:07:30Z');
  it('is late when staleAfterPeriods slots (each past the grace) passed since the baseline', () => {
    // Slots 12:05, 12:00, 11:55 are more than 2 min in the past: the third one is 11:55.
    expect(isLate('*/5 * * * *', T('2026-01-01T11:54:00Z'), now, 3, 120_000)).toBe(true);
    expect(isLate('*/5 * * * *', T('2026-01-01T11:56:00Z'), now, 3, 120_000)).toBe(false);
    // With a 3 min grace, 12:05 is not yet counted: the third slot back is 11:50.
    expect(isLate('*/5 * * * *', T('2026-01-01T11:54:00Z'), now, 3, 180_000)).toBe(false);
    expect(isLate('0 * * * *', T('2026-01-01T08:00:00Z'), now, 3, 300_000)).toBe(true);
    expect(isLate('0 * * * *', T('2026-01-01T10:00:00Z'), now, 3, 300_000)).toBe(false);
  });

  it('counts failures in a row, newest first; skipped triggers are not in the list it gets', () => {
    expect(
      failingStreak([{ result: 'error' }, { result: 'timeout' }, { result: 'crashed' }, { result: 'ok' }]),
    ).toBe(3);
    expect(failingStreak([{ result: 'ok' }, { result: 'error' }])).toBe(0);
    expect(failingStreak([])).toBe(0);
  });
});
