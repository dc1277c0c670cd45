// The disk gate of the thumbnail worker. Before claiming, free space on outputDir (statfs) must be at least
// minFreeMb. A render that still meets ENOSPC (the disk filled between the check and the write, or a
// quota) closes the gate at once, whatever statfs says; it opens again when free space is at least
// minFreeMb and has grown by REOPEN_GROWTH since that ENOSPC, so a disk with a few kB free does not make
// the worker render and defer in a loop. A render deferred by a full disk spends no attempt.
import fs from 'node:fs';
import path from 'node:path';
import { statfsFree } from '../../lib/disk.js';
import type { ThumbnailMetrics } from './metrics.js';
import type { ClaimGate } from './gate.js';

/** The failure code of a render whose PNG did not fit on the output file system. */
export const DISK_FULL = 'DISK_FULL';

/** How much free space must come back after an ENOSPC before claiming resumes (a few 512² PNGs). */
export const REOPEN_GROWTH = 1024 * 1024;

export interface DiskGateOptions {
  gate: ClaimGate;
  metrics: ThumbnailMetrics;
  outputDir: string;
  minFreeBytes: number;
  /** Free bytes of a path (statfs by default). */
  freeBytes?: (p: string) => number;
  /** Free space growth needed after an ENOSPC (REOPEN_GROWTH by default). */
  reopenGrowth?: number;
}

export class DiskGate {
  /** Free bytes when a render met ENOSPC; null when the last close (if any) came from statfs alone. */
  private fullAt: number | null = null;

  constructor(private readonly o: DiskGateOptions) {}

  private free(): number | null {
    try {
      return (this.o.freeBytes ?? statfsFree)(this.o.outputDir);
    } catch {
      return null; // not mounted yet or gone: the render's own error will say so
    }
  }

  /** Re-check free space, open or close the gate; true when the disk lets renders through. */
  check(): boolean {
    const free = this.free();
    if (free === null) return true;
    this.o.metrics.diskFree.set(free);
    const min = this.o.minFreeBytes;
    const growth = this.o.reopenGrowth ?? REOPEN_GROWTH;
    const ok = free >= min && (this.fullAt === null || free >= this.fullAt + growth);
    if (ok) this.fullAt = null;
    this.o.gate.set(
      'disk',
      ok
        ? null
        : this.fullAt !== null
          ? `a thumbnail write met ENOSPC on ${this.o.outputDir} (${free} bytes free); claiming paused`
          : `${free} bytes free on ${this.o.outputDir}, below thumbnailWorker.minFreeMb; claiming paused`,
      { outputDir: this.o.outputDir, freeBytes: free, minFreeBytes: min },
    );
    return ok;
  }

  /** A render met ENOSPC: close the gate now. */
  sawFull(): void {
    this.fullAt = this.free() ?? 0;
    this.check();
  }
}

/** The temp name writeFileAtomic gives a PNG: `.<name>.png.<12 hex>.tmp`. */
const TEMP_PNG = /^\..+\.png\.[0-9a-f]{12}\.tmp$/;

/**
 * Remove temp PNGs left by a process killed mid-write (or a render thread terminated mid-write), once they
 * are older than olderThanMs: a live writer finishes within a render, so an old temp file has no owner.
 * Returns the number removed. Files vanishing meanwhile (another worker sweeping) are not an error.
 */
export function sweepStaleTemps(outputDir: string, olderThanMs: number, nowMs: number): number {
  let removed = 0;
  let names: string[];
  try {
    names = fs.readdirSync(outputDir, { recursive: true, encoding: 'utf8' });
  } catch {
    return 0;
  }
  for (const rel of names) {
    if (!TEMP_PNG.test(path.basename(rel))) continue;
    const p = path.join(outputDir, rel);
    try {
      if (nowMs - fs.statSync(p).mtimeMs < olderThanMs) continue;
      fs.rmSync(p, { force: true });
      removed++;
    } catch {
      /* gone already */
    }
  }
  return removed;
}
