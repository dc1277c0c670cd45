// Write-lock stall tracking for one Db: how long writes in this process have gone without the write lock.
// A stall starts when a write first has to wait and ends when any write gets the lock. It is what the
// daemon reports (contimg_db_write_stall_seconds, a warn line when it passes `stallAfterMs` and an info
// line when it ends, /readyz 503 with the reason) and what makes db.write() stop waiting on the event loop:
// once the stall is older than the synchronous budget, waiting longer would only freeze the daemon.
import type { Logger } from '../log.js';

/** A write that gave up this long ago, with no success since, still counts as evidence of a stall. */
const GIVE_UP_MEMORY_MS = 60_000;

export interface WriteStallOptions {
  db: string;
  /** A stall at least this old is reported (log, readiness); databases.writeStallMs. */
  stallAfterMs: number;
  log?: Logger;
  /**
   * SQLite's data_version on our connection: it changes when another connection commits. A lock that keeps
   * changing hands is contention, not a stall: db.write() must keep its full budget then, or a busy peer
   * would starve this process's writes.
   */
  version?: () => number;
}

export class WriteStall {
  /** When the oldest write still without the lock (since the last success) started waiting. */
  private since: number | null = null;
  private lastGiveUp: number | null = null;
  private gaveUpCount = 0;
  /** Start times of writeAsync calls waiting right now (a waiting db.write() blocks every observer). */
  private readonly waiting = new Set<{ start: number }>();
  private reported = false;
  /** data_version when the stall began. */
  private sinceVersion: number | null = null;

  constructor(private readonly o: WriteStallOptions) {}

  /** A write found the lock taken and is about to wait; returns the handle to pass to `doneWaiting`. */
  startWaiting(start: number, now: number): { start: number } {
    if (this.since === null || this.ms(now) === 0) {
      this.since = start;
      this.gaveUpCount = 0;
      this.sinceVersion = this.readVersion();
    }
    const w = { start };
    this.waiting.add(w);
    return w;
  }

  /** The waiting write got the lock, gave up, or was aborted: it no longer waits. */
  doneWaiting(w: { start: number } | null): void {
    if (w) this.waiting.delete(w);
  }

  /** A write gave up (DbBusyError). */
  gaveUp(now: number): void {
    this.lastGiveUp = now;
    this.gaveUpCount++;
    this.check(now);
  }

  /** Another connection committed since the stall began: the lock is moving, so the stall is over. */
  noteProgress(now: number): void {
    if (this.since === null || this.sinceVersion === null) return;
    const v = this.readVersion();
    if (v !== null && v !== this.sinceVersion) this.acquired(now);
  }

  private readVersion(): number | null {
    try {
      return this.o.version?.() ?? null;
    } catch {
      return null;
    }
  }

  /** A write got the lock: whatever stall there was is over. */
  acquired(now: number): void {
    if (this.since === null) return;
    if (this.reported)
      this.o.log?.info(
        { db: this.o.db, stalledMs: Math.round(now - this.since), gaveUp: this.gaveUpCount },
        'write lock available again: writes are going through',
      );
    this.since = null;
    this.sinceVersion = null;
    this.lastGiveUp = null;
    this.gaveUpCount = 0;
    this.reported = false;
  }

  /**
   * How long writes have gone without the lock: from the start of the oldest write that waited without
   * success, while one is still waiting or one gave up recently (within a minute); 0 otherwise.
   */
  ms(now: number): number {
    if (this.since === null) return 0;
    const recentGiveUp = this.lastGiveUp !== null && now - this.lastGiveUp < GIVE_UP_MEMORY_MS;
    return this.waiting.size > 0 || recentGiveUp ? now - this.since : 0;
  }

  /** Log the stall once it passes stallAfterMs (once per stall; `acquired` logs its end). */
  check(now: number): void {
    const ms = this.ms(now);
    if (this.reported || ms < this.o.stallAfterMs) return;
    this.reported = true;
    this.o.log?.warn(
      { db: this.o.db, stalledMs: Math.round(ms), waiting: this.waiting.size, gaveUp: this.gaveUpCount },
      'write lock unavailable: another connection is holding it; writes are waiting or failing',
    );
  }

  /** The /readyz reason while the stall is reported, else undefined. */
  reason(now: number): string | undefined {
    this.check(now);
    const ms = this.ms(now);
    if (ms < this.o.stallAfterMs) return undefined;
    return (
      `write lock stalled: no write has got the lock for ${(ms / 1000).toFixed(1)} s ` +
      `(${this.waiting.size} waiting, ${this.gaveUpCount} gave up); another connection holds it`
    );
  }
}
