// Other processes' commits, as a hint: a commit in WAL mode appends its frames to the -wal file, and
// fs.watch (inotify on Linux) reports the write at once, so an idle tail need not poll to see it. A hint
// only ever causes a look at data_version, never a delivery by itself: it also fires for our own writes and
// for a checkpoint's, and it can arrive a moment before the committer has published the commit in the
// wal-index (the tail looks again shortly after every hint for that reason).
import fs from 'node:fs';
import type { Logger } from '../log.js';

/** How long to wait between attempts to (re)establish a watch that failed or was lost. */
const REWATCH_MS = 1_000;

export class WalHint {
  private watcher: fs.FSWatcher | undefined;
  private lastTry = -Infinity;
  private failed = false;

  constructor(
    /** The database file; the hint watches `${file}-wal`. */
    private readonly file: string,
    private readonly onHint: () => void,
    private readonly log?: Logger,
  ) {}

  /** Whether the -wal file is watched now; (re)establishes a missing watch at most every REWATCH_MS. */
  ensure(now = performance.now()): boolean {
    if (this.watcher) return true;
    if (now - this.lastTry < REWATCH_MS) return false;
    this.lastTry = now;
    const wal = `${this.file}-wal`;
    try {
      const w = fs.watch(wal, { persistent: false }, (kind) => {
        // 'rename': the file was removed or replaced (the last connection closed, a restore): this inode
        // will see no more commits; drop the watch and let ensure() find the new file.
        if (kind === 'rename') this.drop();
        this.onHint();
      });
      w.on('error', (e) => {
        this.log?.debug({ err: e, wal }, 'watch on the -wal file failed; polling until it is back');
        this.drop();
      });
      this.watcher = w;
      if (this.failed) this.log?.info({ wal }, 'watching the -wal file again');
      this.failed = false;
      return true;
    } catch (e) {
      // ENOENT (no writer has opened the file yet), ENOSPC (the inotify watch limit), or no inotify at all.
      if (!this.failed)
        this.log?.info({ err: e, wal }, 'cannot watch the -wal file: polling for commits meanwhile');
      this.failed = true;
      return false;
    }
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  close(): void {
    this.drop();
    this.lastTry = Infinity;
  }

  private drop(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
