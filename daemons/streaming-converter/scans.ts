// How the converter looks at incomingDir, and how often (docs/streaming-converter.md, "Scan model"):
// - hints: fs.watch events name paths; the main loop looks at them after watchDebounceMs;
// - the quick pass, every scanIntervalS: the hints, the files of groups in flight, settling and unreadable
//   files, then the directory's stamp: a change the watcher did not account for asks for a listing;
// - the reconcile (its own lib/loop): a listing plus a verify of every known file at start and every
//   reconcileIntervalS, and a listing alone whenever one is asked for.
// Per quick pass the work is O(files in flight); the O(files on disk) work happens once per reconcile.
import type { Ctx } from './context.js';
import { DirChanges } from './dirstamp.js';
import type { Intake } from './intake.js';
import type { ReconcileReason } from './metrics.js';
import { Reconciler } from './reconcile.js';
import { DirWatcher } from './watcher.js';

export interface ScanHooks {
  /** Something is waiting for the main loop (hints, new files). */
  wake(): void;
  /** A listing of the whole directory finished. */
  onListed(): void;
}

export class Scans {
  private readonly watcher: DirWatcher | null;
  private readonly changes: DirChanges;
  readonly reconciler: Reconciler;
  private listed = false;
  /** Set by run.ts: wakes the reconcile loop when a listing is asked for. */
  onListingWanted: () => void = () => {};

  constructor(
    private readonly ctx: Ctx,
    private readonly intake: Intake,
    hooks: ScanHooks,
  ) {
    const { cfg, log, m } = ctx;
    this.changes = new DirChanges(cfg.incomingDir);
    this.watcher = cfg.watch
      ? new DirWatcher(
          cfg.incomingDir,
          cfg.watchDebounceMs,
          { wake: () => hooks.wake(), overflow: () => this.want('overflow') },
          log,
          m,
        )
      : null;
    this.reconciler = new Reconciler(ctx, intake, this.changes, {
      onNewFiles: () => hooks.wake(),
      onListed: () => {
        this.listed = true;
        hooks.onListed();
      },
      watcherEvents: () => this.watcher?.events ?? 0,
    });
  }

  start(): void {
    this.watcher?.start();
  }

  close(): void {
    this.watcher?.close();
  }

  /** The quick pass; afterwards, whether the directory changed in a way only a listing can resolve. */
  quick(): void {
    const { clock, m } = this.ctx;
    const t0 = clock.monotonic();
    if (this.watcher && !this.watcher.healthy) this.watcher.start();
    const res = this.intake.quickPass(this.watcher?.take() ?? []);
    // Until the first listing finishes, the start-up reconcile covers every change.
    if (this.listed) {
      const verdict = this.changes.check(clock.now(), {
        healthy: this.watcher?.healthy ?? false,
        events: this.watcher?.events ?? 0,
      });
      if (verdict === 'replaced') {
        this.watcher?.start();
        this.want('replaced');
      } else if (verdict === 'unexplained') this.want('unexplained');
    }
    m.scanSeconds.observe({ kind: 'quick' }, (clock.monotonic() - t0) / 1000);
    m.scanExamined.observe({ kind: 'quick' }, res.examined);
  }

  /** Between quick passes: the hinted paths, then settling files that are due. */
  look(): void {
    const hints = this.watcher?.take() ?? [];
    if (hints.length) this.intake.look(hints);
    else this.intake.lookDue();
  }

  private want(reason: ReconcileReason): void {
    this.reconciler.want(reason);
    this.onListingWanted();
  }
}
