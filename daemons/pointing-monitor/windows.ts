// Transit-window edges from a wall-clock timer: one timer armed at the next edge (window open, peak,
// window close), so events land within a second of the edge instead of on a 60 s poll. The timer never
// sleeps longer than maxSleepMs, so a stepped wall clock is noticed. Each edge fires at most once: the
// emitted set (and the caller's persisted markers via isEmitted) survive schedule recomputes.
import type { Clock } from '../../lib/clock.js';
import { isRetryable } from '../../lib/errors.js';
import type { ScheduledTransit } from './schedule.js';

export type EdgeKind = 'window_open' | 'peak' | 'window_close';
const ORDER: Record<EdgeKind, number> = { window_open: 0, peak: 1, window_close: 2 };

export interface WindowEdge {
  kind: EdgeKind;
  transit: ScheduledTransit;
  atMs: number;
  /** True for an open edge emitted after its time because the window was found already open. */
  late: boolean;
  /** Failed writes of this edge so far. */
  failures?: number;
}

export interface WindowTimerOptions {
  clock: Clock;
  onEdge: (edge: WindowEdge, firedAtMs: number) => void;
  /** Persisted markers: an edge already written by an earlier run is skipped. */
  isEmitted?: (edge: WindowEdge) => boolean;
  maxSleepMs?: number;
  /** Past edges younger than this are still emitted (e.g. set just after the edge); default 2 s. */
  graceMs?: number;
  /** A failed edge write; `edge.failures` counts them (1 for the first), so repeats can be logged quietly. */
  onError?: (e: unknown, edge: WindowEdge) => void;
}

const RETRY_MS = 1_000;
const GIVE_UP_MS = 60_000;

export const edgeKey = (kind: EdgeKind, t: Pick<ScheduledTransit, 'name' | 'model' | 'transitMs'>): string =>
  `${t.name}|${t.model}|${Math.round(t.transitMs / 60_000)}|${kind}`;

export class WindowTimer {
  private readonly o: WindowTimerOptions;
  private edges: WindowEdge[] = [];
  private readonly emitted = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** After a failed edge write: do not fire again before this (the failed edges are retried then). */
  private retryAtMs = 0;

  constructor(opts: WindowTimerOptions) {
    this.o = opts;
  }

  /** Replace the schedule; only eligible transits have windows. */
  setTransits(transits: readonly ScheduledTransit[]): void {
    const now = this.o.clock.now();
    const grace = this.o.graceMs ?? 2_000;
    // Edges already armed and not yet fired stay due however late they are now (a busy event loop must not
    // make a recompute drop them); the grace only limits edges this timer has never armed.
    const armed = new Set(this.edges.map((e) => edgeKey(e.kind, e.transit)));
    const edges: WindowEdge[] = [];
    for (const t of transits) {
      if (!t.eligible) continue;
      const all: WindowEdge[] = [
        { kind: 'window_open', transit: t, atMs: t.windowStartMs, late: false },
        { kind: 'peak', transit: t, atMs: t.transitMs, late: false },
        { kind: 'window_close', transit: t, atMs: t.windowEndMs, late: false },
      ];
      for (const e of all) {
        if (this.emitted.has(edgeKey(e.kind, t)) || this.o.isEmitted?.(e)) continue;
        if (e.atMs < now - grace && !armed.has(edgeKey(e.kind, t))) {
          if (e.kind !== 'window_open' || now > t.windowEndMs) continue;
          e.late = true;
        }
        edges.push(e);
      }
    }
    this.edges = edges.sort((a, b) => a.atMs - b.atMs || ORDER[a.kind] - ORDER[b.kind]);
    this.arm();
  }

  /** The next edge not yet emitted (for status and metrics). */
  nextEdge(): WindowEdge | undefined {
    return this.edges[0];
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.edges.length === 0) return;
    const now = this.o.clock.now();
    const due = Math.max(this.edges[0].atMs, this.retryAtMs);
    const delay = Math.max(0, Math.min(due - now, this.o.maxSleepMs ?? 60_000));
    this.timer = setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.o.clock.now();
    const failed: WindowEdge[] = [];
    while (this.edges.length && (this.edges[0].late || this.edges[0].atMs <= now + 1)) {
      const e = this.edges.shift() as WindowEdge;
      this.emitted.add(edgeKey(e.kind, e.transit));
      try {
        this.o.onEdge(e, now);
      } catch (err) {
        // A failed write must not stop the timer (the next edge still fires) nor lose this edge: it is
        // retried RETRY_MS later, for as long as the error is retryable (a database locked by another
        // process for minutes: the edge lands late, with its own time), otherwise while it is younger than
        // GIVE_UP_MS.
        e.failures = (e.failures ?? 0) + 1;
        this.o.onError?.(err, e);
        this.emitted.delete(edgeKey(e.kind, e.transit));
        if (isRetryable(err) || now - e.atMs < GIVE_UP_MS) failed.push(e);
      }
    }
    this.retryAtMs = failed.length ? now + RETRY_MS : 0;
    this.edges.unshift(...failed);
    if (this.emitted.size > 10_000) this.emitted.clear();
    this.arm();
  }
}
