import { describe, expect, it } from 'vitest';
import { numberOption, parseDurationMs, UsageError } from '../../../cli/util.js';

describe('cli option parsing', () => {
  it('numberOption accepts numbers in range and rejects the rest as usage errors naming the flag', () => {
    const limit = numberOption('--limit', { integer: true, min: 1 });
    expect(limit('50')).toBe(50);
    for (const bad of ['abc', '', '0', '1.5', '-3', 'Infinity']) {
      expect(() => limit(bad)).toThrow(UsageError);
      expect(() => limit(bad)).toThrow(/--limit/);
    }
    expect(numberOption('--contrast')('0.25')).toBe(0.25);
  });

  it('parseDurationMs reads s, m, h and d', () => {
    expect(parseDurationMs('24h')).toBe(86_400_000);
    expect(parseDurationMs('7d')).toBe(604_800_000);
    expect(parseDurationMs('90m')).toBe(5_400_000);
    expect(parseDurationMs('30')).toBe(30_000);
    expect(() => parseDurationMs('soon')).toThrow(UsageError);
  });
});
