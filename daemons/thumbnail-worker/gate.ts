// The claim gate: render jobs are claimed only while nothing pauses the worker. A pause has a reason
// (`disk`: the output file system is full or nearly so; `threads`: every render thread is stuck in a
// system call). Closing or opening the gate raises or resolves the reason's alert and appends a
// thumbnail.paused / thumbnail.resumed event in one transaction, sets contimg_thumbnails_paused{reason} and
// logs once; run.ts stops the queue worker while the gate is closed and starts it again when it opens.
import { raiseAlert, resolveAlert, type Severity } from '../../lib/alerts/index.js';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/index.js';
import { appendEvent } from '../../lib/events/index.js';
import type { Logger } from '../../lib/log.js';
import type { ThumbnailMetrics } from './metrics.js';

export const PAUSE_REASONS = ['disk', 'threads'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

/** The alert each pause raises while it lasts (docs/runbook.md says what to do). */
export const PAUSE_ALERTS: Record<PauseReason, { alertname: string; severity: Severity }> = {
  disk: { alertname: 'ThumbnailDiskFull', severity: 'warning' },
  threads: { alertname: 'ThumbnailRenderThreadsStuck', severity: 'warning' },
};

/**
 * Resolves at the next call of the wake function it adds to `waiters` (which removes itself) or when the
 * signal aborts, whichever comes first.
 */
export function nextWake(waiters: Set<() => void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      waiters.delete(done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    waiters.add(done);
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface GateDeps {
  state: Db;
  clock: Clock;
  log: Logger;
  metrics: ThumbnailMetrics;
  /** The topic of thumbnail.paused / thumbnail.resumed events. */
  topic: string;
}

export class ClaimGate {
  private readonly closed = new Map<PauseReason, string>();
  private readonly openWaiters = new Set<() => void>();
  private readonly closeListeners = new Set<() => void>();

  constructor(private readonly d: GateDeps) {}

  get isOpen(): boolean {
    return this.closed.size === 0;
  }

  /** Why claiming is paused (reason → summary); empty when open. */
  reasons(): Record<string, string> {
    return Object.fromEntries(this.closed);
  }

  /** Close (summary given) or open (null) one reason; writes alert, event and metric on a change only. */
  set(reason: PauseReason, summary: string | null, details: Record<string, unknown> = {}): void {
    const was = this.closed.has(reason);
    const now = summary !== null;
    if (was === now) {
      if (now) this.closed.set(reason, summary);
      return;
    }
    const { alertname, severity } = PAUSE_ALERTS[reason];
    const at = this.d.clock.now();
    this.d.state.write((c) => {
      if (now)
        raiseAlert(
          c,
          { alertname, severity, labels: {}, annotations: { summary }, source: 'thumbnail-worker' },
          at,
        );
      else resolveAlert(c, { alertname, labels: {} }, at);
      appendEvent(
        c,
        {
          topic: this.d.topic,
          type: now ? 'thumbnail.paused' : 'thumbnail.resumed',
          payload: { reason, ...(now ? { summary } : {}), ...details },
        },
        at,
      );
    });
    if (now) this.closed.set(reason, summary);
    else this.closed.delete(reason);
    this.d.metrics.paused.set({ reason }, now ? 1 : 0);
    if (now) this.d.log.warn({ reason, ...details }, `claiming paused: ${summary}`);
    else this.d.log.warn({ reason, ...details }, `claiming resumed (${reason})`);
    if (now) for (const fn of [...this.closeListeners]) fn();
    else if (this.isOpen) for (const fn of [...this.openWaiters]) fn();
  }

  /** Resolves when the gate is open or the signal aborts. */
  waitOpen(signal: AbortSignal): Promise<void> {
    if (this.isOpen || signal.aborted) return Promise.resolve();
    return nextWake(this.openWaiters, signal);
  }

  /** Call fn whenever the gate closes; returns the unsubscribe function. */
  onClose(fn: () => void): () => void {
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }
}
