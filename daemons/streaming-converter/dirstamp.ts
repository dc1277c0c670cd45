// Whether incomingDir may hold names no listing has seen, from the directory's own stat (dev, inode, mtime,
// ctime in ns): adding, removing or renaming an entry changes the directory's mtime, writing into a file does
// not. A stamp is taken right before a listing starts, so everything the listing can miss changed the
// stamp afterwards, except a change within the same timestamp tick: file systems store mtime at their
// granularity (ext4 ~4 ms coarse clock, 1 s on some network file systems, 2 s on FAT), so a stamp taken less
// than RACY_MS after its own mtime is "racy" (git's racy-index rule) and proves nothing about later changes.
// The directory's mtime comes from the file system's clock (the server's, on NFS): keep clocks in sync.
import fs from 'node:fs';

/** A stamp younger than this (wall clock − mtime) may hide a later change in the same tick. */
export const RACY_MS = 3000;

export interface DirStamp {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Wall-clock ms when the stat was taken. */
  takenAt: number;
}

/** The directory's stamp, or null when it does not exist (or cannot be stat'ed). */
export function readStamp(dir: string, now: number): DirStamp | null {
  try {
    const s = fs.statSync(dir, { bigint: true });
    return { dev: s.dev, ino: s.ino, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, takenAt: now };
  } catch {
    return null;
  }
}

/** The same directory (device and inode): false when incomingDir was replaced or re-pointed. */
export function sameDir(a: DirStamp | null, b: DirStamp | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

export function sameStamp(a: DirStamp | null, b: DirStamp | null): boolean {
  if (a === null || b === null) return a === b;
  return sameDir(a, b) && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** Taken so soon after the directory's last change that a change in the same tick would not show. */
export function isRacy(s: DirStamp, racyMs = RACY_MS): boolean {
  const mtimeMs = Number(s.mtimeNs / 1_000_000n);
  return s.takenAt - mtimeMs < racyMs;
}

export type DirVerdict =
  /** Nothing was added, removed or renamed since the last listing began. */
  | 'unchanged'
  /** Changed, and the watcher reported events since: the hints cover it. */
  | 'hinted'
  /** Changed with no event delivered yet (events lag the change): decided at the next check. */
  | 'pending'
  /** Changed (or racy) without a watcher event to account for it: list the directory. */
  | 'unexplained'
  /** Another directory now sits at incomingDir (or it appeared/vanished): list it, restart the watcher. */
  | 'replaced';

/**
 * Tracks the stamp the last listing started from. check() compares the directory now with it: with a healthy
 * watcher, a change that came with events is accounted for by the hints (an event the kernel dropped is
 * found by the periodic reconcile); a change still without events one check later means the watcher did not
 * see it (a network file system whose remote writes raise no inotify event, a dropped watch), and without a
 * watcher any change does: then the caller lists the directory.
 */
export class DirChanges {
  private base: DirStamp | null = null;
  private baseEvents = 0;
  private listed = false;
  /** The last check saw a change that no event had accounted for yet. */
  private suspect = false;

  constructor(
    private readonly dir: string,
    private readonly racyMs = RACY_MS,
  ) {}

  /** Take the stamp a listing starts from (before its first read). */
  listingStarts(now: number, watcherEvents: number): { stamp: DirStamp | null; events: number } {
    return { stamp: readStamp(this.dir, now), events: watcherEvents };
  }

  /** The listing that started with `start` read the directory to its end. */
  listingDone(start: { stamp: DirStamp | null; events: number }): void {
    this.base = start.stamp;
    this.baseEvents = start.events;
    this.listed = true;
    this.suspect = false;
  }

  check(now: number, watcher: { healthy: boolean; events: number }): DirVerdict {
    if (!this.listed) return 'unexplained';
    const s = readStamp(this.dir, now);
    if (!sameDir(s, this.base)) return s === null && this.base === null ? 'unchanged' : 'replaced';
    const racy = isRacy(this.base!, this.racyMs);
    if (sameStamp(s, this.base) && !racy) return 'unchanged';
    if (!watcher.healthy) return 'unexplained';
    if (watcher.events > this.baseEvents) {
      // Accounted for by the hints: later checks compare with this stamp.
      this.base = s;
      this.baseEvents = watcher.events;
      this.suspect = false;
      return 'hinted';
    }
    // A racy stamp that is still the same, under a watcher that saw nothing: a change in the same tick would
    // have raised an event; re-take the stamp so it stops being racy once the tick is long past.
    if (sameStamp(s, this.base)) {
      this.base = s;
      return 'unchanged';
    }
    // The events of a change that just happened may not have been read yet (the loop was busy): give them
    // until the next check.
    if (!this.suspect) {
      this.suspect = true;
      return 'pending';
    }
    this.suspect = false;
    return 'unexplained';
  }
}
