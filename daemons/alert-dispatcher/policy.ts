// Delivery policy, pure with the clock passed in: what a failed attempt leads to (retry when, or dead), the
// token bucket that paces a receiver, and the circuit breaker that stops hammering one that is down.
import { backoffMs, type BackoffPolicy } from '../../lib/backoff.js';
import type { DeliveryFailure } from '../../lib/notifiers/index.js';
import type { AlertDispatcherConfig } from '../../lib/config/sections/alert-dispatcher.js';

export interface RetrySettings {
  backoff: BackoffPolicy;
  maxAttempts: number;
  maxAgeMs: number;
  resolvedMaxAgeMs: number;
  retryAfterMaxMs: number;
}

export function retrySettings(r: AlertDispatcherConfig['retry']): RetrySettings {
  return {
    backoff: {
      strategy: 'exponential',
      baseMs: r.initialDelayS * 1000,
      maxMs: r.maxDelayS * 1000,
      jitter: r.jitter,
    },
    maxAttempts: r.maxAttempts,
    maxAgeMs: r.maxAgeS * 1000,
    resolvedMaxAgeMs: r.resolvedMaxAgeS * 1000,
    retryAfterMaxMs: r.retryAfterMaxS * 1000,
  };
}

export type NextStep =
  | { action: 'retry'; delayMs: number; countsForCircuit: boolean; plainText: boolean }
  | { action: 'dead'; reason: string };

/**
 * After a failed attempt number `attempt` (1-based) of a notification created at `createdAt`: permanent errors
 * are dead at once; 429 waits Retry-After (capped) and does not count toward the circuit; a payload Slack
 * rejected (400) is tried once more as plain text; anything else backs off 5 s × 2^(n−1) ±20 %, capped,
 * until the attempts or the age (resolved notifications: shorter) run out.
 */
export function nextStep(
  f: DeliveryFailure,
  p: {
    attempt: number;
    createdAt: number;
    now: number;
    resolved: boolean;
    s: RetrySettings;
    random?: () => number;
  },
): NextStep {
  if (f.disposition === 'permanent') return { action: 'dead', reason: 'permanent error' };
  if (p.attempt >= p.s.maxAttempts) return { action: 'dead', reason: `gave up after ${p.attempt} attempts` };
  let delayMs: number;
  let countsForCircuit = true;
  let plainText = false;
  if (f.disposition === 'retry_after') {
    delayMs = Math.min(f.retryAfterMs ?? backoffMs(p.s.backoff, p.attempt, p.random), p.s.retryAfterMaxMs);
    countsForCircuit = false;
  } else if (f.disposition === 'plain_text') {
    delayMs = 0;
    countsForCircuit = false;
    plainText = true;
  } else delayMs = backoffMs(p.s.backoff, p.attempt, p.random);
  const maxAge = p.resolved ? p.s.resolvedMaxAgeMs : p.s.maxAgeMs;
  if (p.now + delayMs - p.createdAt > maxAge)
    return { action: 'dead', reason: `older than ${Math.round(maxAge / 1000)} s before the next attempt` };
  return { action: 'retry', delayMs, countsForCircuit, plainText };
}

/** A token bucket: `perMinute` sustained, `burst` at once; perMinute 0 means no limit. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    perMinute: number,
    private readonly burst: number,
    now: number,
  ) {
    this.perMs = perMinute / 60_000;
    this.tokens = burst;
    this.last = now;
  }

  get unlimited(): boolean {
    return this.perMs === 0;
  }

  private refill(now: number): void {
    if (now > this.last) this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = Math.max(this.last, now);
  }

  tryTake(now: number): boolean {
    if (this.unlimited) return true;
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whole tokens available now (Infinity without a limit). */
  available(now: number): number {
    if (this.unlimited) return Infinity;
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** When the next token is there (now if one is). */
  nextAt(now: number): number {
    if (this.unlimited) return now;
    this.refill(now);
    return this.tokens >= 1 ? now : now + Math.ceil((1 - this.tokens) / this.perMs);
  }
}

export type CircuitState = 'closed' | 'open' | 'half_open';

/**
 * Per receiver: `threshold` consecutive failures open it for `openMs`; then one probe goes through (half open):
 * its success closes the circuit, its failure opens it again. Rate limits and our own payload errors are neither.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private opened = false;

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
  ) {}

  state(now: number): CircuitState {
    if (!this.opened) return 'closed';
    return now < this.openUntil ? 'open' : 'half_open';
  }

  /** May a send start now? In half-open state only one (the probe) at a time. */
  admit(now: number): boolean {
    const s = this.state(now);
    if (s === 'closed') return true;
    if (s === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** When an open circuit lets a probe through (0 when closed). */
  get reopensAt(): number {
    return this.opened ? this.openUntil : 0;
  }

  onSuccess(): void {
    this.failures = 0;
    this.opened = false;
    this.probing = false;
  }

  onFailure(now: number): void {
    this.probing = false;
    this.failures++;
    if (this.opened || this.failures >= this.threshold) {
      this.opened = true;
      this.openUntil = now + this.openMs;
    }
  }

  /** An outcome that says nothing about the receiver's health (429, our payload, a crash). */
  onNeutral(): void {
    this.probing = false;
  }
}
