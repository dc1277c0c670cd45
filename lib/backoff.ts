// The one backoff helper. Exponential with full-range jitter ("decorrelated" enough for our few processes),
// capped; other strategies kept from the original retry policy for jobs that want them.

export type BackoffStrategy = 'exponential' | 'linear' | 'constant' | 'fibonacci';

export interface BackoffPolicy {
  strategy: BackoffStrategy;
  baseMs: number;
  maxMs: number;
  /** 0..1: the fraction of the delay that is randomised (0.2 → delay × [0.8, 1.2]). */
  jitter: number;
}

export const BACKOFF_PRESETS = Object.freeze({
  QUICK: Object.freeze({ strategy: 'exponential', baseMs: 200, maxMs: 5_000, jitter: 0.2 }),
  STANDARD: Object.freeze({ strategy: 'exponential', baseMs: 1_000, maxMs: 60_000, jitter: 0.2 }),
  AGGRESSIVE: Object.freeze({ strategy: 'exponential', baseMs: 5_000, maxMs: 600_000, jitter: 0.2 }),
} satisfies Record<string, BackoffPolicy>);

function fib(n: number): number {
  let a = 1;
  let b = 1;
  for (let i = 1; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** The un-jittered delay before retry number `attempt` (1 = the first retry). */
export function baseDelayMs(policy: BackoffPolicy, attempt: number): number {
  const n = Math.max(1, Math.floor(attempt));
  let d: number;
  switch (policy.strategy) {
    case 'exponential':
      d = policy.baseMs * 2 ** (n - 1);
      break;
    case 'linear':
      d = policy.baseMs * n;
      break;
    case 'constant':
      d = policy.baseMs;
      break;
    case 'fibonacci':
      d = policy.baseMs * fib(n);
      break;
  }
  return Math.min(d, policy.maxMs);
}

/** `delayMs` ± `jitter` (a fraction, clamped to 0-1), unrounded: for sub-millisecond pauses. */
export function jitteredMs(delayMs: number, jitter: number, random: () => number = Math.random): number {
  const j = Math.min(Math.max(jitter, 0), 1);
  return delayMs * (1 - j + 2 * j * random());
}

/** The jittered delay in whole ms; `random` is injectable so tests can check the bounds. */
export function backoffMs(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  return Math.max(0, Math.round(jitteredMs(baseDelayMs(policy, attempt), policy.jitter, random)));
}
