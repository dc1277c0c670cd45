// Transit-window events: the wall-clock WindowTimer's edges become `transit.window_open`, `transit.peak`
// and `transit.window_close` events (topic `transit`), written with the row's emitted marker in one
// transaction so a restart never repeats one. A closing window first matches the transit to data.
import { isoUtc } from '../../lib/astro/index.js';
import { appendEvent } from '../../lib/events/index.js';
import type { PointingMonitor } from './monitor.js';
import type { ScheduledTransit } from './schedule.js';
import {
  isEmitted,
  markEmitted,
  matchTransitsToData,
  transitDataMatch,
  type EmittedColumn,
} from './store.js';
import { WindowTimer, type EdgeKind, type WindowEdge } from './windows.js';

const COLUMN: Record<EdgeKind, EmittedColumn> = {
  window_open: 'open_emitted_unix',
  peak: 'peak_emitted_unix',
  window_close: 'close_emitted_unix',
};
const DAY_MS = 86_400_000;

export class TransitWindows {
  private readonly m: PointingMonitor;
  private readonly timer: WindowTimer;

  constructor(m: PointingMonitor) {
    this.m = m;
    const { db, clock, log } = m.o;
    this.timer = new WindowTimer({
      clock,
      onEdge: (e, at) => this.onEdge(e, at),
      isEmitted: (e) =>
        db.read((c) => isEmitted(c, e.transit.name, e.transit.model, e.transit.transitMs, COLUMN[e.kind])),
      // The first failure of an edge is an error; its retries (every second while, say, the database stays
      // locked) only at debug: the database reports a lock stall itself.
      onError: (err, e) =>
        log[e.failures === 1 ? 'error' : 'debug'](
          { err, edge: e.kind, calibrator: e.transit.name, failures: e.failures },
          'transit window event failed; retrying',
        ),
    });
  }

  setSchedule(s: readonly ScheduledTransit[]): void {
    this.timer.setTransits(s);
  }

  /** Match transits of the last backfillDays (at most) to observations; called when new data arrive. */
  matchRecent(days = 1): number {
    const { db, clock, cfg } = this.m.o;
    const now = clock.now();
    const from = now - Math.min(days, cfg.backfillDays) * DAY_MS;
    return db.write((c) =>
      matchTransitsToData(
        c,
        from / 1000,
        now / 1000 + cfg.matchWindowS,
        cfg.matchWindowS,
        cfg.calibratorDecToleranceDeg,
      ),
    );
  }

  private onEdge(e: WindowEdge, firedAtMs: number): void {
    const { db, cfg, metrics, log } = this.m.o;
    const t = e.transit;
    const base = {
      calibrator: t.name,
      transitUtc: isoUtc(t.transitMs),
      windowStartUtc: isoUtc(t.windowStartMs),
      windowEndUtc: isoUtc(t.windowEndMs),
      decSepDeg: t.decSepDeg,
      pbResponse: t.pbResponse,
      model: t.model,
      late: e.late,
    };
    const payload = db.write((c) => {
      let p: Record<string, unknown> = base;
      if (e.kind === 'window_close') {
        matchTransitsToData(
          c,
          t.transitMs / 1000 - 1,
          t.transitMs / 1000 + 1,
          cfg.matchWindowS,
          cfg.calibratorDecToleranceDeg,
        );
        p = { ...base, ...transitDataMatch(c, t.name, t.model, t.transitMs) };
      }
      appendEvent(c, { topic: 'transit', type: `transit.${e.kind}`, payload: p }, firedAtMs);
      markEmitted(c, t.name, t.model, t.transitMs, COLUMN[e.kind], firedAtMs);
      return p;
    });
    if (e.kind === 'window_open') metrics.inWindow.set({ calibrator: t.name }, 1);
    if (e.kind === 'window_close') {
      metrics.inWindow.set({ calibrator: t.name }, 0);
      metrics.windows.inc({ calibrator: t.name, has_data: String(payload.hasData === true) });
    }
    log.info(
      { edge: e.kind, calibrator: t.name, transitUtc: base.transitUtc, late: e.late },
      'transit window edge',
    );
  }

  stop(): void {
    this.timer.stop();
  }
}
