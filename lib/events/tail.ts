// The events tail: delivers every committed event once, in seq order, to one consumer (the WebSocket hub).
// Whether there is anything to read is decided by a look at two counters: the reader connection's
// PRAGMA data_version (moves when another connection commits) and total_changes() (moves when this
// connection commits, if it is also the writer). A look is cheap; reading happens only when they moved.
//
// When to look, without burning CPU while idle:
// - a commit in this process wakes the tail at once (wake.ts: after COMMIT, never for a rollback);
// - another process's commit is hinted by a watch on the -wal file (wal-hint.ts);
// - after any wake or new commit the tail looks again a few times at growing gaps (2, 4, … 64 ms), which
//   catches a hint that came a moment before its commit was published, and bursts of commits;
// - otherwise it looks every pollMs (a safety net: a lost or unavailable watch), or every fallbackPollMs
//   while the -wal file cannot be watched.
import { cachedStatement, type Db } from '../db/index.js';
import type { Logger } from '../log.js';
import { maxEventSeq, readEventsAfter, type EventRow } from './table.js';
import { WalHint } from './wal-hint.js';
import { onEventsCommitted } from './wake.js';

export interface EventTailOptions {
  db: Db;
  /** Deliver events after this seq; default: the current max (only new events). */
  fromSeq?: number;
  /** The longest gap between two looks while the -wal file is watched (the safety poll); default 1000 ms. */
  pollMs?: number;
  /** The gap between looks while the -wal file cannot be watched; default 50 ms (or pollMs if smaller). */
  fallbackPollMs?: number;
  /** Watch the -wal file for other processes' commits; default true. */
  watchWal?: boolean;
  /** Page size for each read; default 500. */
  batch?: number;
  /** Called with each page of new events, in seq order, each event once. */
  onEvents: (events: EventRow[]) => void;
  log?: Logger;
}

/** The first look-again gap after activity; it doubles up to FOLLOW_UP_MAX_MS (or the poll interval). */
const FOLLOW_UP_MS = 2;
const FOLLOW_UP_MAX_MS = 64;

export class EventTail {
  private readonly opts: EventTailOptions;
  private seq: number;
  private marker = '';
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** When the scheduled look is due (performance.now()). */
  private due = Infinity;
  /** The next look-again gap after activity; undefined when relaxed to the poll interval. */
  private followUpMs: number | undefined;
  private hint: WalHint | undefined;
  private unsubscribe: (() => void) | undefined;
  private started = false;
  private stopped = false;

  constructor(opts: EventTailOptions) {
    this.opts = opts;
    this.seq = opts.fromSeq ?? opts.db.read((c) => maxEventSeq(c));
  }

  /** The last seq delivered to onEvents. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Whether the tail is still looking again shortly after activity (false once it relaxed to the poll). */
  get followingUp(): boolean {
    return this.followUpMs !== undefined;
  }

  /** Whether other processes' commits are hinted by a watch on the -wal file right now. */
  get watching(): boolean {
    return this.hint?.watching ?? false;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.unsubscribe = onEventsCommitted(this.opts.db.conn.name, () => this.wake());
    if (this.opts.watchWal ?? true)
      this.hint = new WalHint(this.opts.db.path, () => this.wake(), this.opts.log);
    this.hint?.ensure();
    this.wake();
  }

  /** Look now (on the next turn of the event loop), then again shortly after. */
  wake(): void {
    this.followUpMs = FOLLOW_UP_MS;
    this.schedule(0);
  }

  /** Read and deliver whatever is new now; returns the number of events delivered. */
  poll(): number {
    return this.look().delivered;
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
    this.unsubscribe?.();
    this.hint?.close();
  }

  private readonly tick = (): void => {
    this.timer = this.immediate = undefined;
    this.due = Infinity;
    try {
      if (this.look().moved) this.followUpMs = FOLLOW_UP_MS;
    } catch (e) {
      // A locked or busy file must not kill the tail: log and try again at the next look.
      this.opts.log?.warn({ err: e }, 'event tail poll failed; retrying');
    }
    if (this.stopped) return;
    const interval = this.interval();
    if (this.followUpMs !== undefined && this.followUpMs <= Math.min(FOLLOW_UP_MAX_MS, interval)) {
      this.schedule(this.followUpMs);
      this.followUpMs *= 2;
    } else {
      this.followUpMs = undefined;
      this.schedule(interval);
    }
  };

  /** The gap between looks when nothing happens: long while the -wal file is watched, short otherwise. */
  private interval(): number {
    const pollMs = this.opts.pollMs ?? 1_000;
    if (this.hint?.ensure()) return pollMs;
    return Math.min(pollMs, this.opts.fallbackPollMs ?? 50);
  }

  /** Look after delayMs unless a look is already due sooner. */
  private schedule(delayMs: number): void {
    if (!this.started || this.stopped) return;
    const due = performance.now() + delayMs;
    if (due >= this.due) return;
    this.cancel();
    this.due = due;
    if (delayMs <= 0) this.immediate = setImmediate(this.tick);
    else this.timer = setTimeout(this.tick, delayMs);
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
    this.due = Infinity;
  }

  /** Compare the counters; if they moved, read and deliver page by page. */
  private look(): { moved: boolean; delivered: number } {
    const conn = this.opts.db.reader;
    const dv = cachedStatement(conn, 'PRAGMA data_version').get() as { data_version: number };
    const changes = cachedStatement(conn, 'SELECT total_changes() AS n').get() as { n: number };
    const marker = `${dv.data_version}:${changes.n}`;
    if (marker === this.marker) return { moved: false, delivered: 0 };
    const batch = this.opts.batch ?? 500;
    let delivered = 0;
    for (;;) {
      const events = this.opts.db.read((c) => readEventsAfter(c, this.seq, { limit: batch }));
      if (events.length === 0) break;
      this.seq = events[events.length - 1].seq;
      delivered += events.length;
      this.opts.onEvents(events);
      if (events.length < batch) break;
    }
    // Only now: a read that failed (busy, I/O) must be retried at the next look even if nothing else commits.
    this.marker = marker;
    return { moved: true, delivered };
  }
}
