// Delivery policy: backoff 5 s × 2^(n−1) ±20 % capped at 300 s, Retry-After honoured and kept off the
// circuit, plain text once after a rejected payload, dead after max attempts or max age, token bucket, circuit.
import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  nextStep,
  retrySettings,
  TokenBucket,
} from '../../../daemons/alert-dispatcher/policy.js';
import {
  classifyHttpStatus,
  classifySmtpError,
  classifyTransportError,
  parseRetryAfter,
} from '../../../lib/notifiers/index.js';

const s = retrySettings({
  initialDelayS: 5,
  maxDelayS: 300,
  jitter: 0.2,
  maxAttempts: 12,
  maxAgeS: 21_600,
  resolvedMaxAgeS: 3600,
  retryAfterMaxS: 900,
});
const failure = { result: 'http_5xx' as const, disposition: 'retry' as const, error: 'x' };

describe('nextStep', () => {
  it('backs off 5 s × 2^(n−1) within ±20 %, capped at 300 s', () => {
    for (const [attempt, base] of [
      [1, 5000],
      [2, 10_000],
      [3, 20_000],
      [7, 300_000],
      [10, 300_000],
    ] as const) {
      const lo = nextStep(failure, { attempt, createdAt: 0, now: 0, resolved: false, s, random: () => 0 });
      const hi = nextStep(failure, { attempt, createdAt: 0, now: 0, resolved: false, s, random: () => 1 });
      expect(lo).toMatchObject({ action: 'retry', delayMs: base * 0.8, countsForCircuit: true });
      expect(hi).toMatchObject({ action: 'retry', delayMs: base * 1.2 });
    }
  });

  it('429 waits Retry-After (capped at 900 s) and does not count for the circuit', () => {
    const f = {
      result: 'http_429' as const,
      disposition: 'retry_after' as const,
      retryAfterMs: 7000,
      error: 'x',
    };
    expect(nextStep(f, { attempt: 1, createdAt: 0, now: 0, resolved: false, s })).toEqual({
      action: 'retry',
      delayMs: 7000,
      countsForCircuit: false,
      plainText: false,
    });
    expect(
      nextStep({ ...f, retryAfterMs: 3_600_000 }, { attempt: 1, createdAt: 0, now: 0, resolved: false, s }),
    ).toMatchObject({ delayMs: 900_000 });
  });

  it('a rejected payload is retried at once as plain text', () => {
    const f = { result: 'http_4xx' as const, disposition: 'plain_text' as const, error: 'x' };
    expect(nextStep(f, { attempt: 1, createdAt: 0, now: 0, resolved: false, s })).toEqual({
      action: 'retry',
      delayMs: 0,
      countsForCircuit: false,
      plainText: true,
    });
  });

  it('dead: permanent errors at once, after 12 attempts, past 6 h (resolved: 1 h)', () => {
    const p = { attempt: 1, createdAt: 0, now: 0, resolved: false, s, random: () => 0.5 };
    expect(nextStep({ ...failure, disposition: 'permanent' }, p).action).toBe('dead');
    expect(nextStep(failure, { ...p, attempt: 12 }).action).toBe('dead');
    expect(nextStep(failure, { ...p, attempt: 11 }).action).toBe('retry');
    expect(nextStep(failure, { ...p, now: 21_600_000 - 4000 }).action).toBe('dead');
    expect(nextStep(failure, { ...p, now: 3_600_000 - 6000 }).action).toBe('retry');
    expect(nextStep(failure, { ...p, now: 3_600_000 - 4000, resolved: true }).action).toBe('dead');
  });
});

describe('classification', () => {
  it('HTTP statuses', () => {
    expect(classifyHttpStatus(500, { now: 0, error: 'e' })).toMatchObject({
      result: 'http_5xx',
      disposition: 'retry',
    });
    expect(classifyHttpStatus(408, { now: 0, error: 'e' })).toMatchObject({
      result: 'http_4xx',
      disposition: 'retry',
    });
    expect(classifyHttpStatus(404, { now: 0, error: 'e' })).toMatchObject({
      result: 'http_4xx',
      disposition: 'permanent',
    });
    expect(classifyHttpStatus(429, { now: 0, error: 'e', retryAfter: '7' })).toMatchObject({
      result: 'http_429',
      disposition: 'retry_after',
      retryAfterMs: 7000,
    });
  });

  it('Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-15T12:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('SMTP replies and transport errors', () => {
    expect(classifySmtpError({ responseCode: 451 }, 'e')).toMatchObject({
      result: 'smtp_4xx',
      disposition: 'retry',
      smtpCode: 451,
    });
    expect(classifySmtpError({ responseCode: 535, code: 'EAUTH' }, 'e')).toMatchObject({
      result: 'smtp_5xx',
      disposition: 'permanent',
    });
    expect(classifySmtpError({ code: 'ETIMEDOUT' }, 'e')).toMatchObject({
      result: 'timeout',
      disposition: 'retry',
    });
    expect(classifySmtpError({ code: 'ECONNECTION' }, 'e')).toMatchObject({ result: 'network' });
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyTransportError(Object.assign(new Error('wrapped'), { cause: timeout }), 'e').result).toBe(
      'timeout',
    );
  });
});

describe('TokenBucket', () => {
  it('allows the burst, then one per period', () => {
    const b = new TokenBucket(60, 3, 0);
    expect([b.tryTake(0), b.tryTake(0), b.tryTake(0), b.tryTake(0)]).toEqual([true, true, true, false]);
    expect(b.nextAt(0)).toBe(1000);
    expect(b.tryTake(999)).toBe(false);
    expect(b.tryTake(1000)).toBe(true);
    expect(new TokenBucket(0, 1, 0).tryTake(0) && new TokenBucket(0, 1, 0).nextAt(5)).toBe(5);
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one probe through after openMs, closes on its success', () => {
    const c = new CircuitBreaker(5, 60_000);
    for (let i = 0; i < 4; i++) c.onFailure(i);
    expect(c.state(4)).toBe('closed');
    c.onFailure(10);
    expect(c.state(10)).toBe('open');
    expect(c.admit(60_009)).toBe(false);
    expect(c.state(60_010)).toBe('half_open');
    expect(c.admit(60_010)).toBe(true);
    expect(c.admit(60_010)).toBe(false); // one probe at a time
    c.onFailure(60_020);
    expect(c.state(60_021)).toBe('open');
    expect(c.admit(120_020)).toBe(true);
    c.onSuccess();
    expect(c.state(120_021)).toBe('closed');
  });

  it('neutral outcomes neither open nor close it', () => {
    const c = new CircuitBreaker(1, 1000);
    c.onFailure(0);
    expect(c.admit(1000)).toBe(true);
    c.onNeutral();
    expect(c.state(1000)).toBe('half_open');
    expect(c.admit(1000)).toBe(true);
  });
});
