// The one loop helper for a daemon's background work: run a tick every N ms or at a time the tick computes,
// woken early by a hint (a file watcher, an in-process commit), with the injected clock, the abort signal,
// logging, an error counter and backoff while ticks keep failing, and optionally only while holding a lease
// (so one process in the fleet runs it). A loop never throws out of run() except for errors its owner
// declares fatal (a database that is gone): everything else is logged, counted and backed off.
import { backoffMs, type BackoffPolicy } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import type { Db } from './db/index.js';
import { acquireLease, acquireOrReclaimLease, releaseLease } from './leases/index.js';
import { silentLogger, type Logger } from './log.js';

export interface LoopTickContext {
  signal: AbortSignal;
  /** The fencing token of the loop's lease (null for a loop without one): check it inside your writes. */
  token: number | null;
}

/** A tick returns nothing (next tick after `everyMs`) or the wall-clock ms at which it wants to run next. */
export type LoopTick = (ctx: LoopTickContext) => void | number | Promise<void | number>;

export interface LoopLease {
  db: Db;
  name: string;
  /** Lease owner id (see `leaseOwner` in lib/leases). */
  owner: string;
  /** Lease time to live; three intervals by default, so two missed ticks do not hand it over. */
  ttlMs?: number;
  /** Take the lease at once from a holder that is a dead process on this host (not after its expiry). */
  reclaimDead?: boolean;
}

export interface LoopOptions {
  /** Names the loop in logs and in the error counter's label. */
  name: string;
  tick: LoopTick;
  /** Default wait between the end of one tick and the start of the next. */
  everyMs: number;
  signal: AbortSignal;
  clock?: Clock;
  log?: Logger;
  /** Waits while ticks keep failing (attempt = consecutive failures); the next success resets it. */
  errorBackoff?: BackoffPolicy;
  /** Called for every failed tick (count it in the daemon's loop-error series). */
  onError?: (e: unknown) => void;
  /** Errors that end the loop: run() rejects with them. */
  isFatal?: (e: unknown) => boolean;
  /** Run the first tick at once (default) or after everyMs. */
  immediate?: boolean;
  /** Only tick while holding this lease; it is renewed before each tick and released when the loop ends. */
  lease?: LoopLease;
}

export const LOOP_ERROR_BACKOFF: BackoffPolicy = Object.freeze({
  strategy: 'exponential',
  baseMs: 1000,
  maxMs: 30_000,
  jitter: 0.2,
});

export class Loop {
  private pending: (() => void) | null = null;
  private woken = false;
  private failures = 0;
  private leaseToken: number | null = null;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly o: LoopOptions) {
    this.clock = o.clock ?? systemClock;
    this.log = (o.log ?? silentLogger()).child({ loop: o.name });
  }

  /** Run the next tick as soon as the current one (if any) ends. Cheap; safe to call from anywhere. */
  wake(): void {
    this.woken = true;
    this.pending?.();
  }

  /** Consecutive failed ticks (0 when the last tick succeeded). */
  get errorStreak(): number {
    return this.failures;
  }

  /** The lease's fencing token while held; null without a lease or while someone else holds it. */
  get token(): number | null {
    return this.leaseToken;
  }

  /** Tick until the signal aborts; resolves after the last tick has finished and the lease is released. */
  async run(): Promise<void> {
    const { signal } = this.o;
    let delay = this.o.immediate === false ? this.o.everyMs : 0;
    try {
      while (!signal.aborted) {
        await this.wait(delay);
        if (signal.aborted) break;
        delay = await this.step();
      }
    } finally {
      this.releaseHeldLease();
    }
  }

  /** One tick (behind the lease, if any); returns how long to wait before the next one. */
  private async step(): Promise<number> {
    const { o } = this;
    try {
      if (o.lease && !this.holdLease(o.lease)) return o.everyMs;
      const next = await o.tick({ signal: o.signal, token: this.leaseToken });
      this.failures = 0;
      return typeof next === 'number' ? Math.max(0, next - this.clock.now()) : o.everyMs;
    } catch (e) {
      if (o.isFatal?.(e)) throw e;
      this.failures++;
      o.onError?.(e);
      const waitMs = backoffMs(o.errorBackoff ?? LOOP_ERROR_BACKOFF, this.failures);
      this.log.error({ err: e, failures: this.failures, retryInMs: waitMs }, 'loop tick failed; backing off');
      return waitMs;
    }
  }

  /** Take or extend the lease (one short write); false while another process holds it. */
  private holdLease(l: LoopLease): boolean {
    const ttlMs = l.ttlMs ?? this.o.everyMs * 3;
    const now = this.clock.now();
    const token = l.reclaimDead
      ? acquireOrReclaimLease(l.db, l.name, l.owner, ttlMs, now, { log: this.log })
      : acquireLease(l.db, l.name, l.owner, ttlMs, now);
    if (token !== this.leaseToken)
      this.log.info(
        { lease: l.name, fencingToken: token },
        token === null ? 'lease held elsewhere; standing by' : 'holding the lease',
      );
    this.leaseToken = token;
    return token !== null;
  }

  private releaseHeldLease(): void {
    const l = this.o.lease;
    if (!l || this.leaseToken === null) return;
    try {
      releaseLease(l.db, l.name, l.owner, this.leaseToken);
    } catch (e) {
      this.log.warn({ err: e, lease: l.name }, 'lease release failed; it will expire');
    }
    this.leaseToken = null;
  }

  /** Sleep up to ms; a wake() since the last tick or an abort ends it early. */
  private wait(ms: number): Promise<void> {
    const { signal } = this.o;
    if (this.woken || signal.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.pending = null;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      this.pending = done;
    });
  }
}

/** Start a loop in the background: `done` settles when it has stopped (rejects only on a fatal error). */
export function startLoop(o: LoopOptions): { loop: Loop; done: Promise<void> } {
  const loop = new Loop(o);
  return { loop, done: loop.run() };
}
