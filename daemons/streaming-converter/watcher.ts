// File-arrival hints for incomingDir from one fs.watch (inotify) on the directory itself. It keeps no state
// per file, unlike chokidar, which holds a Set of every name of a watched directory, opens one watch per
// file and re-lists (and lstats) the whole directory on every change: with months of kept inputs that is
// O(files) memory and CPU per arrival (docs/streaming-converter.md, "Why fs.watch"). Hints only: the intake
// looks at the named paths; the quick pass and the reconcile stay the truth.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/log.js';
import type { ConverterMetrics } from './metrics.js';

/** Distinct hinted names held between two looks; beyond this the hints are dropped and a listing is asked for. */
export const MAX_HINTS = 10_000;

export interface HintSink {
  /** Called (debounced) when hints are waiting. */
  wake(): void;
  /** The hint set overflowed: the names are dropped, list the directory instead. */
  overflow(): void;
}

export class DirWatcher {
  private w: fs.FSWatcher | null = null;
  private readonly hints = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** A failed start was logged; the next failures are not, until a start succeeds. */
  private startFailed = false;
  /** Events received since start (the directory check compares counts). */
  events = 0;

  constructor(
    private readonly dir: string,
    private readonly debounceMs: number,
    private readonly sink: HintSink,
    private readonly log: Logger,
    private readonly m: ConverterMetrics,
  ) {}

  /** Watching, with no error since it started. */
  get healthy(): boolean {
    return this.w !== null;
  }

  /** Start (or restart) the watch; false when the directory cannot be watched now (absent, EACCES). */
  start(): boolean {
    this.close();
    try {
      this.w = fs.watch(this.dir, { persistent: false }, (type, name) => this.onEvent(type, name));
    } catch (e) {
      if (!this.startFailed)
        this.log.warn(
          { err: e, dir: this.dir },
          'cannot watch incomingDir; scans continue, retried each pass',
        );
      this.startFailed = true;
      return false;
    }
    this.startFailed = false;
    this.w.on('error', (e) => {
      this.m.watchEvents.inc({ type: 'error' });
      this.log.warn({ err: e }, 'watcher error; scans continue and the watch is restarted');
      this.close();
    });
    return true;
  }

  /** The hinted paths since the last call (absolute), and forget them. */
  take(): string[] {
    const out = [...this.hints];
    this.hints.clear();
    return out;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.w;
    this.w = null;
    w?.close();
  }

  private onEvent(type: string, name: string | Buffer | null): void {
    this.events++;
    this.m.watchEvents.inc({ type: type === 'change' ? 'change' : 'rename' });
    if (name === null) {
      // No name (the kernel did not say which entry): only a listing can tell.
      this.hints.clear();
      this.sink.overflow();
      return;
    }
    if (this.hints.size >= MAX_HINTS) {
      this.m.watchEvents.inc({ type: 'dropped' });
      this.hints.clear();
      this.sink.overflow();
      return;
    }
    this.hints.add(path.join(this.dir, name.toString()));
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.sink.wake();
    }, this.debounceMs);
  }
}
