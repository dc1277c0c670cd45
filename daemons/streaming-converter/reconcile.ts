// The reconcile: the pass that keeps "the directory is the truth" without holding the directory. It lists
// incomingDir with fs.opendir in slices of SLICE names (each slice: the names parsed, one primary-key
// lookup statement for the subband names, the unknown ones stat'ed and recorded), then walks the known rows
// under incomingDir by keyset pages of SLICE (each row's file lstat'ed; vanished or changed files recorded).
// It yields to the event loop between slices, so the daemon keeps dispatching while it runs, and holds one
// slice at a time: memory does not depend on how many files the directory has.
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Ctx } from './context.js';
import type { DirChanges } from './dirstamp.js';
import type { Intake } from './intake.js';
import type { ReconcileReason } from './metrics.js';
import * as S from './store.js';

/** Names per listing slice and rows per verify page. */
export const SLICE = 1000;

export interface ReconcileHooks {
  /** New files were recorded (the main loop should look at them when they are due). */
  onNewFiles(): void;
  /** A listing of the whole directory finished (readiness after the first one). */
  onListed(): void;
  /** Events the watcher has delivered so far (a listing's starting stamp records it). */
  watcherEvents(): number;
}

export interface PassResult {
  listed: number;
  verified: number;
  /** New files found by the listing; changed or vanished files found by the verify side. */
  found: number;
}

export class Reconciler {
  /** The next full pass (listing + verify): at once, then every reconcileIntervalS. */
  private nextFullAt = 0;
  private wanted: ReconcileReason | null = null;
  private first = true;

  constructor(
    private readonly ctx: Ctx,
    private readonly intake: Intake,
    private readonly changes: DirChanges,
    private readonly hooks: ReconcileHooks,
  ) {}

  /** Ask for a listing soon (the directory changed without hints, the hint set overflowed, …). */
  want(reason: ReconcileReason): void {
    this.wanted ??= reason;
  }

  get pending(): ReconcileReason | null {
    return this.wanted;
  }

  /**
   * The reconcile loop's tick (lib/loop): the full pass when due, else a listing if one was asked for.
   * Returns when the next full pass is due.
   */
  async tick(signal: AbortSignal): Promise<number> {
    const { clock, cfg, m } = this.ctx;
    const full = clock.now() >= this.nextFullAt;
    const reason: ReconcileReason | null = full ? (this.first ? 'start' : 'interval') : this.wanted;
    if (reason === null) return this.nextFullAt;
    m.reconciles.inc({ reason });
    const t0 = clock.monotonic();
    const res = await this.pass(signal, full);
    if (res) {
      m.scanSeconds.observe({ kind: 'reconcile' }, (clock.monotonic() - t0) / 1000);
      m.scanExamined.observe({ kind: 'reconcile' }, res.listed + res.verified);
      this.ctx.log.debug({ reason, full, ...res }, 'reconcile done');
      if (full) this.nextFullAt = clock.now() + cfg.reconcileIntervalS * 1000;
    }
    return this.nextFullAt;
  }

  /** One pass; null when the daemon is stopping (an unfinished pass proves nothing). */
  async pass(signal: AbortSignal, verify: boolean): Promise<PassResult | null> {
    const listing = await this.listAll(signal);
    if (listing === null) return null;
    this.first = false;
    this.hooks.onListed();
    if (!verify) return { listed: listing.entries, verified: 0, found: listing.found };
    const v = await this.verifyAll(signal);
    if (v === null) return null;
    return { listed: listing.entries, verified: v.rows, found: listing.found + v.found };
  }

  /** Every name of incomingDir, SLICE at a time, through intake.discover(). */
  private async listAll(signal: AbortSignal): Promise<{ entries: number; found: number } | null> {
    const { ctx, intake } = this;
    this.wanted = null;
    const start = this.changes.listingStarts(ctx.clock.now(), this.hooks.watcherEvents());
    intake.beginListing();
    let dir: fs.Dir;
    try {
      dir = fs.opendirSync(ctx.cfg.incomingDir, { bufferSize: 256 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.listed(start, 0);
      return { entries: 0, found: 0 };
    }
    let entries = 0;
    let found = 0;
    try {
      for (;;) {
        const names: string[] = [];
        while (names.length < SLICE) {
          const d = dir.readSync();
          if (d === null) break;
          names.push(d.name);
        }
        entries += names.length;
        const fresh = intake.discover(names);
        if (fresh > 0) this.hooks.onNewFiles();
        found += fresh;
        if (names.length < SLICE) break;
        await nextTurn();
        if (signal.aborted) return null;
      }
    } finally {
      dir.closeSync();
    }
    this.listed(start, entries);
    return { entries, found };
  }

  private listed(start: ReturnType<DirChanges['listingStarts']>, entries: number): void {
    this.changes.listingDone(start);
    this.intake.endListing();
    this.ctx.m.scanEntries.set(entries);
  }

  /** Every live row under incomingDir, SLICE at a time (keyset on the primary key), through intake.verify(). */
  private async verifyAll(signal: AbortSignal): Promise<{ rows: number; found: number } | null> {
    const { ctx, intake } = this;
    const prefix = path.join(ctx.cfg.incomingDir, '/');
    // Every path under the prefix sorts before the prefix with its last byte ('/') raised by one ('0').
    const below = `${prefix.slice(0, -1)}0`;
    let after = prefix;
    let rows = 0;
    let found = 0;
    for (;;) {
      const page = ctx.db.read((c) => S.identitiesBetween(c, after, below, SLICE));
      rows += page.length;
      found += intake.verify(page);
      if (page.length < SLICE) return { rows, found };
      after = page[page.length - 1].path;
      await nextTurn();
      if (signal.aborted) return null;
    }
  }
}
