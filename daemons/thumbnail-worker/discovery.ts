// Finding work. The pipeline's images table is the source of truth (read-only to us): each row whose path
// matches includeGlobs gets a thumbnails row per preset. Pending rows are enqueued once their file has
// settled (unmodified for settleS and unchanged since the previous look), with the job's dedupe key bound to
// the file fingerprint. The reconcile pass re-stats finished rows: a changed source goes back to pending, a
// vanished one is marked SOURCE_MISSING. The restyle sweep sends done thumbnails made with another look
// (a changed preset) back to pending a batch at a time; their jobs run at RESTYLE_PRIORITY, below new images.
import fs from 'node:fs';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/index.js';
import { fitsCodeOf, ioError } from '../../lib/fits/errors.js';
import {
  fingerprintKey,
  fingerprintOf,
  isSettled,
  mtimeMs,
  type Fingerprint,
} from '../../lib/fits/fingerprint.js';
import type { ThumbnailMetrics } from './metrics.js';
import { globToRegExp, matchesAny } from './presets.js';
import { RenderJob, type RenderJobPayload } from './render-job.js';
import {
  attachJob,
  doneAfter,
  failOrphanedRunning,
  finishedAfter,
  hasOrphanedRunning,
  markFailure,
  markMissing,
  pendingRestyles,
  requeue,
  unscheduled,
  upsertSource,
  type ThumbRow,
} from './store.js';

export interface DiscoveryOptions {
  state: Db;
  pipeline: Db;
  clock: Clock;
  metrics: ThumbnailMetrics;
  variants: string[];
  /** Look key per variant: a done thumbnail with another look is re-rendered once, in the background. */
  looks: Record<string, string>;
  includeGlobs: string[];
  settleMs: number;
  maxAttempts: number;
  renderTimeoutMs: number;
  batch?: number;
}

/** Queue priority of a re-render for a changed look: the claim takes every new image (priority 0) first. */
export const RESTYLE_PRIORITY = -1;
/** At most this many restyled rows wait at once, so a big archive never floods the queue. */
export const RESTYLE_BACKLOG = 32;

/** The look a row's PNG was made with (params_json.look), or null for rows made before looks were kept. */
function lookOf(row: { params_json: string | null }): string | null {
  if (!row.params_json) return null;
  try {
    const look = (JSON.parse(row.params_json) as { look?: unknown }).look;
    return typeof look === 'string' ? look : null;
  } catch {
    return null;
  }
}

interface ImageRow {
  id: number;
  path: string;
}

/** A CASA image directory is read through its sibling `<dir>.fits` export (docs/thumbnail-worker.md). */
export function resolveFitsPath(p: string): string {
  try {
    if (fs.statSync(p).isDirectory()) return `${p}.fits`;
  } catch {
    /* missing: keep the path; the render reports SOURCE_MISSING */
  }
  return p;
}

type Look =
  | { kind: 'file'; fp: Fingerprint }
  | { kind: 'missing' }
  | { kind: 'dir' }
  | { kind: 'special'; what: string }
  | { kind: 'error'; message: string };

/** One stat(): what the path is now (a FIFO or device is never opened: opening one can block for ever). */
function look(p: string): Look {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(p, { bigint: true });
  } catch (e) {
    const err = ioError(e, p);
    return fitsCodeOf(err) === 'SOURCE_MISSING'
      ? { kind: 'missing' }
      : { kind: 'error', message: err.message };
  }
  if (st.isDirectory()) return { kind: 'dir' };
  if (!st.isFile()) return { kind: 'special', what: st.isFIFO() ? 'a FIFO' : 'a socket or device' };
  return { kind: 'file', fp: fingerprintOf(st) };
}

export class Discovery {
  private lastImageId = 0;
  private readonly globs: RegExp[];
  private readonly previous = new Map<string, Fingerprint>();
  private reconcileCursor = 0;
  /** Keyset cursor of the restyle sweep; null when a whole sweep found nothing (re-armed by reconcile). */
  private restyleCursor: number | null = 0;

  constructor(private readonly o: DiscoveryOptions) {
    this.globs = o.includeGlobs.map(globToRegExp);
  }

  /** Pick up new images rows (incrementally by id; a re-imaged path gets a new id) and enqueue settled work. */
  tick(): { added: number; enqueued: number; restyled: number } {
    const added = this.scanImages();
    const enqueued = this.schedule();
    return { added, enqueued, restyled: this.restyle() };
  }

  /** Does this pending row re-render a PNG made with another look (a restyle, run below new images)? */
  private isRestyle(r: ThumbRow): boolean {
    const want = this.o.looks[r.variant];
    return r.png_path !== null && want !== undefined && lookOf(r) !== want;
  }

  /**
   * Send done thumbnails whose look is not their preset's back to pending, up to RESTYLE_BACKLOG waiting at
   * once (keyset by id). Each goes once: after its re-render its look is current. Returns rows sent.
   */
  restyle(maxScan = 5000): number {
    if (this.restyleCursor === null) return 0;
    const { state, clock } = this.o;
    let room = RESTYLE_BACKLOG - state.read((c) => pendingRestyles(c));
    const ids: number[] = [];
    for (let scanned = 0; room > 0 && scanned < maxScan;) {
      const rows = state.read((c) => doneAfter(c, this.restyleCursor ?? 0, 500));
      if (rows.length === 0) {
        this.restyleCursor = null; // the sweep is complete; reconcile re-arms it
        break;
      }
      for (const r of rows) {
        scanned++;
        this.restyleCursor = r.id;
        const want = this.o.looks[r.variant];
        if (want === undefined || lookOf(r) === want) continue;
        ids.push(r.id);
        if (--room === 0) break;
      }
    }
    if (ids.length === 0) return 0;
    const now = clock.now();
    state.write((c) => ids.forEach((id) => requeue(c, id, null, null, now)));
    return ids.length;
  }

  /** Forget the id cursor so the next tick re-reads every images row (the periodic full pass). */
  rescanAll(): void {
    this.lastImageId = 0;
  }

  private scanImages(): number {
    const { state, pipeline, clock, variants } = this.o;
    let added = 0;
    for (;;) {
      const rows = pipeline.read(
        (c) =>
          c
            .prepare('SELECT id, path FROM images WHERE id > ? ORDER BY id LIMIT ?')
            .all(this.lastImageId, this.o.batch ?? 500) as ImageRow[],
      );
      if (rows.length === 0) return added;
      const wanted = rows
        .map((r) => ({ id: r.id, path: resolveFitsPath(r.path) }))
        .filter((r) => matchesAny(r.path, this.globs));
      const now = clock.now();
      if (wanted.length)
        state.write((c) =>
          wanted.forEach((r) => variants.forEach((v) => upsertSource(c, r.path, v, r.id, now))),
        );
      added += wanted.length;
      this.lastImageId = rows[rows.length - 1].id;
    }
  }

  private schedule(): number {
    const { state, clock, settleMs } = this.o;
    const now = clock.now();
    if (state.read((c) => hasOrphanedRunning(c))) state.write((c) => failOrphanedRunning(c, now));
    const rows = state.read((c) => unscheduled(c, this.o.batch ?? 500));
    const ready: {
      id: number;
      path: string;
      variant: string;
      fp: Fingerprint | null;
      reason: 'new' | 'changed' | 'restyle';
    }[] = [];
    const unsupported: number[] = [];
    const special: { id: number; message: string }[] = [];
    for (const r of rows) {
      const l = look(r.fits_path);
      if (l.kind === 'dir') unsupported.push(r.id);
      else if (l.kind === 'special')
        special.push({ id: r.id, message: `${r.fits_path}: ${l.what}, not a regular file; refused unread` });
      else if (l.kind === 'file') {
        const prev = this.previous.get(r.fits_path);
        this.previous.set(r.fits_path, l.fp);
        if (!isSettled(l.fp, prev, settleMs, now)) continue;
        this.previous.delete(r.fits_path);
        ready.push({ id: r.id, path: r.fits_path, variant: r.variant, fp: l.fp, reason: this.reasonOf(r) });
      } else
        ready.push({ id: r.id, path: r.fits_path, variant: r.variant, fp: null, reason: this.reasonOf(r) });
    }
    if (ready.length === 0 && unsupported.length === 0 && special.length === 0) return 0;
    state.write((c) => {
      for (const id of unsupported)
        markFailure(c, id, 'skipped', 0, 'UNSUPPORTED_FORMAT', 'a directory with no .fits export', now);
      for (const x of special) markFailure(c, x.id, 'failed', 0, 'NOT_REGULAR_FILE', x.message, now);
      for (const r of ready) {
        const key = r.fp ? fingerprintKey(r.fp) : 'missing';
        const payload: RenderJobPayload = {
          thumbId: r.id,
          fitsPath: r.path,
          variant: r.variant,
          fingerprint: key,
          mtimeMs: r.fp ? mtimeMs(r.fp) : null,
        };
        const { job } = RenderJob.enqueue(
          c,
          payload,
          {
            dedupeKey: `${r.variant}|${key}|${r.path}`,
            priority: r.reason === 'restyle' ? RESTYLE_PRIORITY : 0,
            maxAttempts: this.o.maxAttempts,
            timeoutMs: this.o.renderTimeoutMs,
          },
          now,
        );
        attachJob(
          c,
          r.id,
          job.id,
          r.fp
            ? { key, size: r.fp.size, mtimeNs: r.fp.mtimeNs, ino: r.fp.ino }
            : { key, size: 0, mtimeNs: '0', ino: 0 },
          now,
        );
      }
    });
    for (const r of ready) this.o.metrics.discovered.inc({ reason: r.reason });
    return ready.length;
  }

  private reasonOf(r: ThumbRow): 'new' | 'changed' | 'restyle' {
    if (this.isRestyle(r)) return 'restyle';
    return r.job_id !== null ? 'changed' : 'new';
  }

  /**
   * Re-stat finished rows in batches (keyset by id, wrapping around): changed sources return to pending,
   * vanished ones are marked. Only stat() calls, never a read: an unchanged tree costs no I/O beyond that.
   */
  reconcile(maxRows = 5000): { checked: number; changed: number; missing: number } {
    const { state, clock } = this.o;
    let checked = 0;
    let changed = 0;
    let missing = 0;
    this.restyleCursor ??= 0;
    while (checked < maxRows) {
      const rows = state.read((c) => finishedAfter(c, this.reconcileCursor, 500));
      if (rows.length === 0) {
        this.reconcileCursor = 0;
        break;
      }
      this.reconcileCursor = rows[rows.length - 1].id;
      checked += rows.length;
      const now = clock.now();
      const changes: { id: number; kind: 'changed' | 'missing' }[] = [];
      for (const r of rows) {
        const l = look(r.fits_path);
        if (l.kind === 'missing') {
          if (r.status === 'done') changes.push({ id: r.id, kind: 'missing' });
        } else if (l.kind === 'file' && fingerprintKey(l.fp) !== r.src_fingerprint)
          changes.push({ id: r.id, kind: 'changed' });
      }
      if (changes.length === 0) continue;
      state.write((c) => {
        for (const ch of changes) {
          if (ch.kind === 'missing') markMissing(c, ch.id, now);
          else requeue(c, ch.id, null, null, now);
        }
      });
      changed += changes.filter((x) => x.kind === 'changed').length;
      missing += changes.filter((x) => x.kind === 'missing').length;
    }
    return { checked, changed, missing };
  }

  /** A hint from the directory watcher: re-check the rows of this path now (only paths that have rows). */
  touched(fitsPath: string): boolean {
    const { state, clock } = this.o;
    const now = clock.now();
    return state.write((c) => {
      const rows = c
        .prepare(`SELECT id, status, src_fingerprint FROM thumbnails WHERE fits_path = ?`)
        .all(fitsPath) as { id: number; status: string; src_fingerprint: string | null }[];
      if (rows.length === 0) return false;
      const l = look(fitsPath);
      for (const r of rows) {
        if (r.status === 'pending' || r.status === 'running') continue;
        if (l.kind === 'file' && fingerprintKey(l.fp) !== r.src_fingerprint)
          requeue(c, r.id, null, null, now);
      }
      return true;
    });
  }
}
