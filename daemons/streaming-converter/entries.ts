// What a directory entry in incomingDir is, before anything opens it, and how the intake reports the entries
// it will not use. A subband-named directory, FIFO, socket, device or dangling symlink is never opened (a
// FIFO would block the daemon); a symlink whose target leaves incomingDir is refused unless
// streamingConverter.followExternalSymlinks is set. Each such path, and each junk name, is counted and
// logged once while it stays; individual lines are capped per window and a summary line gives the rest.
// What is remembered is bounded (MAX_NOTICES keys): junk never makes memory grow with the directory.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/log.js';
import type { ConverterMetrics } from './metrics.js';

export interface StatLite {
  size: number;
  mtime_ms: number;
  inode: number;
  dev: number;
}

export type IgnoreReason =
  'directory' | 'fifo' | 'socket' | 'device' | 'dangling_symlink' | 'external_symlink' | 'other';

export type Entry =
  | { kind: 'file'; stat: StatLite }
  | { kind: 'missing' }
  | { kind: 'ignored'; reason: IgnoreReason; target?: string };

function lite(s: fs.Stats): StatLite {
  return { size: s.size, mtime_ms: Math.floor(s.mtimeMs), inode: s.ino, dev: s.dev };
}

function typeReason(s: fs.Stats): IgnoreReason {
  if (s.isDirectory()) return 'directory';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  if (s.isBlockDevice() || s.isCharacterDevice()) return 'device';
  return 'other';
}

/** Whether `p` (a resolved real path) is inside `dir` (a resolved real path). */
export function isInside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Classify an entry with lstat (and, for a symlink, stat and realpath), never opening it. A regular file's
 * identity is that of the file itself; a followed symlink's is its target's.
 */
export function inspectEntry(p: string, o: { incomingReal: string; followExternal: boolean }): Entry {
  let l: fs.Stats | undefined;
  try {
    l = fs.lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return { kind: 'missing' }; // EACCES on the folder and the like: as if absent; the scan reports it
  }
  if (!l) return { kind: 'missing' };
  if (l.isFile()) return { kind: 'file', stat: lite(l) };
  if (!l.isSymbolicLink()) return { kind: 'ignored', reason: typeReason(l) };
  let target: fs.Stats | undefined;
  let real: string;
  try {
    target = fs.statSync(p, { throwIfNoEntry: false });
    if (!target) return { kind: 'ignored', reason: 'dangling_symlink' };
    real = fs.realpathSync(p);
  } catch {
    return { kind: 'ignored', reason: 'dangling_symlink' }; // ELOOP, EACCES on the way
  }
  if (!target.isFile()) return { kind: 'ignored', reason: typeReason(target), target: real };
  if (!o.followExternal && !isInside(o.incomingReal, real))
    return { kind: 'ignored', reason: 'external_symlink', target: real };
  return { kind: 'file', stat: lite(target) };
}

export interface NoticeOptions {
  /** At most this many individual lines per window; the rest only go into the summary. */
  maxLines: number;
  windowMs: number;
}

export const DEFAULT_NOTICES: NoticeOptions = { maxLines: 20, windowMs: 10 * 60_000 };

/**
 * Keys remembered at most. A junk entry beyond this is still counted and may be logged, but not remembered,
 * so each listing that meets it counts it again.
 */
export const MAX_NOTICES = 10_000;

type Kind = 'bad_name' | 'ignored';

/**
 * Once-per-key reporting of entries the intake does not use (key = a junk name or an ignored path): the
 * metric counts each once while it stays; a line is logged for the first maxLines new keys of a window; at
 * the end of a window in which anything new appeared, one summary line gives the counts present.
 */
export class JunkNotices {
  private readonly seen = new Map<string, { kind: Kind; reason: string; pass: number }>();
  /** The current listing's number: keys noted or touched during it carry it. */
  private pass = 0;
  private windowStart: number | null = null;
  private lines = 0;
  private fresh = 0;
  private unlogged = 0;

  constructor(
    private readonly log: Logger,
    private readonly m: ConverterMetrics,
    private readonly o: NoticeOptions = DEFAULT_NOTICES,
  ) {}

  /**
   * Report `key` unless it is already known with the same reason; returns whether it was new. `routine`
   * entries (transfer temp files, logged at debug) are counted but neither capped nor summarised.
   */
  note(kind: Kind, key: string, reason: string, now: number, line: () => void, routine = false): boolean {
    const prev = this.seen.get(key);
    if (prev && prev.kind === kind && prev.reason === reason) {
      prev.pass = this.pass;
      return false;
    }
    if (prev || this.seen.size < MAX_NOTICES) this.seen.set(key, { kind, reason, pass: this.pass });
    this.m.files.inc({ result: kind, reason });
    if (routine) {
      line();
      return true;
    }
    this.windowStart ??= now;
    this.fresh++;
    if (this.lines < this.o.maxLines) {
      this.lines++;
      line();
    } else if (this.unlogged++ === 0) {
      this.log.info(
        { maxLines: this.o.maxLines, windowS: this.o.windowMs / 1000 },
        'more entries that are not subband files: not logged one by one; a summary follows',
      );
    }
    return true;
  }

  /** Forget a key (it left the directory, or it became a usable file): if it comes back it is reported again. */
  forget(key: string): void {
    this.seen.delete(key);
  }

  /** A listing of the whole directory begins: keys it does not meet are forgotten at endPass(). */
  beginPass(): void {
    this.pass++;
  }

  /** The listing met `key` (already noted): keep it. */
  touch(key: string): void {
    const v = this.seen.get(key);
    if (v) v.pass = this.pass;
  }

  /** The listing reached the end: forget what it did not meet (those entries left the directory). */
  endPass(): void {
    for (const [key, v] of this.seen) if (v.pass !== this.pass) this.seen.delete(key);
  }

  /** The keys of `kind` now remembered (ignored entries are looked at again on every quick pass). */
  keys(kind: Kind): string[] {
    const out: string[] = [];
    for (const [key, v] of this.seen) if (v.kind === kind) out.push(key);
    return out;
  }

  get size(): number {
    return this.seen.size;
  }

  /** At the end of a window with anything new: one line with the counts present and how many were not logged. */
  summarize(now: number): void {
    if (this.windowStart === null || now - this.windowStart < this.o.windowMs) return;
    if (this.fresh > 0) {
      const present: Record<string, number> = {};
      for (const { kind, reason } of this.seen.values()) {
        const k = `${kind}:${reason}`;
        present[k] = (present[k] ?? 0) + 1;
      }
      this.log.info(
        {
          present,
          newInWindow: this.fresh,
          notLoggedInWindow: this.unlogged,
          windowS: this.o.windowMs / 1000,
        },
        'incomingDir holds entries that are not subband files (summary)',
      );
    }
    this.windowStart = null;
    this.lines = 0;
    this.fresh = 0;
    this.unlogged = 0;
  }
}
