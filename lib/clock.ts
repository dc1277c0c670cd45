// The clock is injected everywhere time matters, so tests can move it and pure logic stays pure.

export interface Clock {
  /** Milliseconds since the Unix epoch (wall clock). */
  now(): number;
  /** A monotonic millisecond reading for measuring durations. */
  monotonic(): number;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
});

/** A clock that moves only when told to; for tests and simulations. */
export class ManualClock implements Clock {
  private t: number;
  private m = 0;
  constructor(startMs: number) {
    this.t = startMs;
  }
  now(): number {
    return this.t;
  }
  monotonic(): number {
    return this.m;
  }
  advance(ms: number): void {
    this.t += ms;
    this.m += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}

/** Resolve after ms, or reject with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Like sleep, but an abort ends the wait early without throwing. Returns true if aborted. */
export async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, signal);
    return false;
  } catch {
    return true;
  }
}
