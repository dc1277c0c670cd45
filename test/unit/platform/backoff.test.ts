import { describe, expect, it } from 'vitest';
import { backoffMs, baseDelayMs, BACKOFF_PRESETS, type BackoffPolicy } from '../../../lib/backoff.js';

describe('backoff', () => {
  const exp: BackoffPolicy = { strategy: 'exponential', baseMs: 100, maxMs: 1000, jitter: 0.2 };

  it.each([
    ['exponential', [100, 200, 400, 800, 1000, 1000]],
    ['linear', [100, 200, 300, 400, 500, 600]],
    ['constant', [100, 100, 100, 100, 100, 100]],
    ['fibonacci', [100, 100, 200, 300, 500, 800]],
  ] as const)('%s grows as documented and is capped', (strategy, expected) => {
    const p = { ...exp, strategy };
    expect([1, 2, 3, 4, 5, 6].map((n) => baseDelayMs(p, n))).toEqual(expected);
  });

  it('jitter stays within ±jitter of the base delay', () => {
    expect(backoffMs(exp, 3, () => 0)).toBe(320);
    expect(backoffMs(exp, 3, () => 1)).toBe(480);
    expect(backoffMs(exp, 3, () => 0.5)).toBe(400);
    for (let i = 0; i < 200; i++) {
      const d = backoffMs(exp, 2);
      expect(d).toBeGreaterThanOrEqual(160);
      expect(d).toBeLessThanOrEqual(240);
    }
  });

  it('presets are frozen', () => {
    expect(Object.isFrozen(BACKOFF_PRESETS.STANDARD)).toBe(true);
  });
});
