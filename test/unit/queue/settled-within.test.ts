// The drain's bounded wait (settledWithin): true when the work settles in time; false when the time runs out
// or the hard stop comes, at once if it came already; and it leaves no listener on the stop signal.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { settledWithin } from '../../../lib/queue/worker-options.js';

const never = new Promise<void>(() => undefined);

describe('settledWithin', () => {
  it('true when the promise settles in time, false when the time runs out first', async () => {
    expect(await settledWithin(Promise.resolve(), 60_000)).toBe(true);
    expect(await settledWithin(never, 20)).toBe(false);
  });

  it('false at once when the stop came already, or as soon as it comes, however long the time', async () => {
    const stopped = new AbortController();
    stopped.abort();
    const t0 = performance.now();
    expect(await settledWithin(never, 60_000, stopped.signal)).toBe(false);
    const later = new AbortController();
    setTimeout(() => later.abort(), 20);
    expect(await settledWithin(never, 60_000, later.signal)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('leaves no listener on the stop signal, whichever way it ends', async () => {
    const stop = new AbortController();
    await settledWithin(Promise.resolve(), 60_000, stop.signal);
    await settledWithin(never, 10, stop.signal);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});
