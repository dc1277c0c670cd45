// The pointing monitor's state and work, driven by run.ts's loops: headers in, detector, schedule, windows,
// status. Every database change goes through db.write with its events and alerts in the same transaction.
import {
  BUILTIN_CALIBRATORS,
  lstHours,
  type Calibrator,
  type Dut1Provider,
  type Site,
} from '../../lib/astro/index.js';
import type { Clock } from '../../lib/clock.js';
import type { Config } from '../../lib/config/index.js';
import type { Connection, Db } from '../../lib/db/index.js';
import { ConfigError } from '../../lib/errors.js';
import { appendEvent } from '../../lib/events/index.js';
import { raiseDataStale, resolveDataStale, updateEopAlert } from './alerts.js';
import type { Logger } from '../../lib/log.js';
import { headerReader, type HeaderReader } from '../../lib/uvh5/reader.js';
import {
  emptyDetector,
  isSlewing,
  stepDetector,
  type DetectorConfig,
  type DetectorState,
} from './detector.js';
import {
  indexIsEmpty,
  pendingFromDir,
  pendingFromIndex,
  readPointing,
  type PendingHeader,
} from './headers.js';
import { declinationAlerts, ingestObservation, type IngestContext } from './ingest.js';
import type { PointingMetrics } from './metrics.js';
import {
  computeSchedule,
  isActive,
  scheduleConfigFrom,
  type ScheduleConfig,
  type ScheduledTransit,
} from './schedule.js';
import { buildStatus, statusKey, type StatusSnapshot } from './status.js';
import {
  currentSegment,
  latestObservation,
  listCalibrators,
  observationsAfter,
  readStatus,
  upsertCalibrators,
  upsertTransit,
  writeStatus,
} from './store.js';
import { loadCalibratorFile } from './sources.js';
import { TransitWindows } from './transit-windows.js';

export interface MonitorOptions {
  db: Db;
  log: Logger;
  clock: Clock;
  metrics: PointingMetrics;
  cfg: Config['pointingMonitor'];
  site: Site;
  dut1: Dut1Provider;
  version: string;
}

const HOUR_MS = 3_600_000;

export class PointingMonitor {
  readonly o: MonitorOptions;
  detector: DetectorState = emptyDetector();
  calibrators: Calibrator[] = [];
  schedule: ScheduledTransit[] = [];
  private lastHeaderMs: number;
  private lastObservationMs: number | null = null;
  private stale = false;
  /** The end of the range the schedule was last computed for. */
  private scheduledToMs = 0;
  /** A computed schedule whose write failed; the next status tick writes it. */
  private unsavedSchedule?: {
    all: ScheduledTransit[];
    dec: number | null;
    fromMs: number;
    toMs: number;
  };
  /** sb00 files that failed for good (path → name time), forgotten once they leave the backfill window. */
  private readonly failed = new Map<string, number>();
  private readonly dirSizes = new Map<string, number>();
  /**
   * Headers are waiting for the reader, which loads on first use (lib/uvh5/reader.ts): the headers loop awaits
   * headerReader.load() and polls again; until then the headers stay pending.
   */
  wantsReader = false;
  readonly windows: TransitWindows;
  readonly detectorCfg: DetectorConfig;
  readonly scheduleCfg: ScheduleConfig;

  constructor(o: MonitorOptions) {
    this.o = o;
    this.lastHeaderMs = o.clock.now();
    this.detectorCfg = {
      thresholdDeg: o.cfg.decChangeThresholdDeg,
      confirmGroups: o.cfg.decChangeConfirmGroups,
      jitterDeg: o.cfg.decJitterToleranceDeg,
    };
    this.scheduleCfg = scheduleConfigFrom(o.cfg);
    this.windows = new TransitWindows(this);
  }

  dut1Now(): number {
    return this.o.dut1.valueAt(this.o.clock.now());
  }

  lstNow(): { apparent: number; mean: number } {
    const now = this.o.clock.now();
    const dut1S = this.o.dut1.valueAt(now);
    return {
      apparent: lstHours(now, { lonDeg: this.o.site.lonDeg, dut1S }),
      mean: lstHours(now, { lonDeg: this.o.site.lonDeg, dut1S, kind: 'mean' }),
    };
  }

  /** Seed calibrators, restore the detector from the database, build the schedule. */
  init(): void {
    const now = this.o.clock.now();
    const cfgCals: Calibrator[] = this.o.cfg.calibrators.map((c) => ({
      ...c,
      fluxJy: c.fluxJy ?? null,
      altNames: [],
      catalog: 'manual',
    }));
    const vla = this.o.cfg.vlaCalibratorFile ? readCalibratorFile(this.o.cfg.vlaCalibratorFile) : [];
    const seeded = this.o.db.write((c) => ({
      builtin: upsertCalibrators(c, BUILTIN_CALIBRATORS, now),
      config: upsertCalibrators(c, cfgCals, now),
      vla: upsertCalibrators(c, vla, now),
    }));
    this.o.log.info({ seeded }, 'calibrators seeded');
    this.calibrators = this.o.db.read((c) => listCalibrators(c));
    this.restoreDetector();
    this.refreshSchedule(now - this.o.cfg.backfillDays * 24 * HOUR_MS);
  }

  /** The stable segment from the database, then the groups after it replayed (rebuilds a pending candidate). */
  private restoreDetector(): void {
    const { seg, after, latest } = this.o.db.read((c) => {
      const s = currentSegment(c);
      return {
        seg: s,
        after: s ? observationsAfter(c, s.endUnix) : [],
        latest: latestObservation(c),
      };
    });
    let st: DetectorState = seg ? { stable: seg, candidate: [] } : emptyDetector();
    for (const o of after) st = stepDetector(st, o, this.detectorCfg).state;
    this.detector =
      st.stable && seg && st.stable.firstGroupId === seg.firstGroupId
        ? st
        : { stable: seg ?? null, candidate: [] };
    if (latest) this.lastObservationMs = latest.midUnix * 1000;
    this.updatePointingGauges();
  }

  private updatePointingGauges(): void {
    const m = this.o.metrics;
    m.declination.set(this.detector.stable?.decDeg ?? Number.NaN);
    m.slewing.set(isSlewing(this.detector) ? 1 : 0);
    m.dataStale.set(this.stale ? 1 : 0);
    if (this.lastObservationMs !== null) m.lastObservation.set(this.lastObservationMs / 1000);
  }

  /** Look for new headers and process them in time order; returns how many observations were recorded. */
  poll(): number {
    const now = this.o.clock.now();
    const since = now - this.o.cfg.backfillHours * HOUR_MS;
    for (const [p, tsMs] of this.failed) if (tsMs < since) this.failed.delete(p);
    let pending: PendingHeader[] = this.pendingIndexed(since);
    if (pending.length === 0 && this.o.cfg.incomingDir && this.o.db.read((c) => indexIsEmpty(c))) {
      const known = this.o.db.read(
        (c) =>
          new Set(
            (
              c
                .prepare('SELECT group_id FROM pointing_observations WHERE mid_unix >= ?')
                .all(since / 1000 - 600) as { group_id: string }[]
            ).map((r) => r.group_id),
          ),
      );
      pending = pendingFromDir(this.o.cfg.incomingDir, since, this.dirSizes).filter(
        (p) => !known.has(p.groupId),
      );
    }
    const todo = pending.filter((p) => !this.failed.has(p.path));
    if (todo.length === 0) return 0;
    const reader = headerReader.get();
    this.wantsReader = reader === undefined;
    if (!reader) return 0;
    let recorded = 0;
    for (const p of todo) if (this.processHeader(reader, p)) recorded++;
    if (recorded > 0) this.afterNewData();
    return recorded;
  }

  /**
   * Pending sb00 rows in time order, paged past files that failed for good: a run of 200 rejected headers
   * must not hide every newer one (they stay pending in the index while their rows are in the window).
   */
  private pendingIndexed(since: number): PendingHeader[] {
    const PAGE = 200;
    for (let cursor = since; ;) {
      const page = this.o.db.read((c) => pendingFromIndex(c, cursor, PAGE));
      const usable = page.filter((p) => !this.failed.has(p.path));
      if (usable.length > 0 || page.length < PAGE) return usable;
      cursor = page[page.length - 1].tsMs + 1;
    }
  }

  private processHeader(reader: HeaderReader, p: PendingHeader): boolean {
    const m = this.o.metrics;
    const t0 = this.o.clock.monotonic();
    const now = this.o.clock.now();
    const r = readPointing(reader, p.path, {
      nowMs: now,
      site: this.o.site,
      dut1: (t) => this.o.dut1.valueAt(t),
    });
    m.headerReadSeconds.observe((this.o.clock.monotonic() - t0) / 1000);
    m.headerReads.inc({ result: r.result });
    if (r.result !== 'ok') {
      if (!r.retryable) this.failed.set(p.path, p.tsMs);
      this.o.log.warn({ path: p.path, result: r.result, detail: r.detail }, 'sb00 header not used');
      return false;
    }
    const before = this.detector.stable?.decDeg ?? null;
    // The flag follows the alert only once the transaction committed (a rollback keeps both as they were).
    const wasStale = this.stale;
    const res = this.o.db.write((conn) => {
      const ctx = this.ingestCtx(conn, now, `contimg-pointing-monitor/${this.o.version}`);
      const out = ingestObservation(ctx, p.groupId, r.pointing);
      if (out.recorded && wasStale) resolveDataStale(conn, now, r.pointing.midUtc);
      return out;
    });
    if (res.recorded && wasStale) this.stale = false;
    this.detector = res.detector;
    this.lastHeaderMs = now;
    this.lastObservationMs = Math.max(this.lastObservationMs ?? 0, r.pointing.midUtcMs);
    for (const a of res.actions) {
      if (a.kind === 'confirmed') {
        m.decChanges.inc();
        this.o.log.info(
          { oldDecDeg: a.old.decDeg, newDecDeg: a.segment.decDeg },
          'pointing declination changed',
        );
      }
    }
    this.updatePointingGauges();
    if ((this.detector.stable?.decDeg ?? null) !== before)
      this.refreshSchedule(now - this.o.cfg.backfillDays * 24 * HOUR_MS);
    return res.recorded;
  }

  private afterNewData(): void {
    this.windows.matchRecent();
  }

  /**
   * Recompute transits from fromMs to now + horizon for the current pointing; re-arm the windows; upsert.
   * The schedule in memory (windows, gauges, the API) changes first: if the write fails (the database
   * locked by another process) it is not lost but saved again by the next status tick.
   */
  refreshSchedule(fromMs: number): void {
    const now = this.o.clock.now();
    const dec = this.detector.stable?.decDeg ?? null;
    const toMs = now + this.o.cfg.horizonHours * HOUR_MS;
    const astro = { site: this.o.site, dut1: (t: number) => this.o.dut1.valueAt(t) };
    const all = computeSchedule(this.calibrators, dec, fromMs, toMs, this.scheduleCfg, astro);
    this.scheduledToMs = toMs;
    const keepFrom = now - 2 * HOUR_MS;
    this.schedule = all.filter((t) => t.windowEndMs >= keepFrom);
    this.windows.setSchedule(this.schedule);
    this.updateTransitGauges(now);
    this.unsavedSchedule = { all, dec, fromMs, toMs };
    this.saveSchedule();
  }

  /** Write the last computed schedule (rows, event, declination alerts) if it is not in the database yet. */
  private saveSchedule(): void {
    const u = this.unsavedSchedule;
    if (!u) return;
    const now = this.o.clock.now();
    this.o.db.write((c) => {
      for (const t of u.all) upsertTransit(c, t, u.dec, now);
      appendEvent(
        c,
        {
          topic: 'transit',
          type: 'transit.schedule_updated',
          payload: {
            count: u.all.length,
            fromUtc: new Date(u.fromMs).toISOString(),
            toUtc: new Date(u.toMs).toISOString(),
            pointingDecDeg: u.dec,
          },
        },
        now,
      );
      if (u.dec !== null) declinationAlerts(this.ingestCtx(c, now), u.dec);
    });
    this.unsavedSchedule = undefined;
    this.o.metrics.transitsComputed.inc({ model: this.scheduleCfg.model }, u.all.length);
  }

  /** `reader` names who read the header; only observation rows record it. */
  private ingestCtx(conn: IngestContext['conn'], now: number, reader = ''): IngestContext {
    return {
      conn,
      nowMs: now,
      detector: this.detector,
      detectorCfg: this.detectorCfg,
      scheduleCfg: this.scheduleCfg,
      calibrators: this.calibrators,
      site: this.o.site,
      envelope: { elMinDeg: this.o.cfg.elMinDeg, elMaxDeg: this.o.cfg.elMaxDeg },
      reader,
    };
  }

  updateTransitGauges(now: number): void {
    const m = this.o.metrics;
    const seen = new Set<string>();
    // A calibrator with no transit ahead (it left the candidates after a declination change) loses its
    // series instead of keeping a time in the past.
    m.nextTransit.reset();
    let upcoming = 0;
    for (const t of this.schedule) {
      if (t.transitMs >= now) upcoming++;
      if (t.transitMs >= now && !seen.has(t.name)) {
        seen.add(t.name);
        m.nextTransit.set({ calibrator: t.name }, t.transitMs / 1000);
      }
    }
    m.upcomingTransits.set(upcoming);
    const inWin = new Set(this.schedule.filter((t) => isActive(t, now)).map((t) => t.name));
    for (const name of new Set(this.schedule.map((t) => t.name)))
      m.inWindow.set({ calibrator: name }, inWin.has(name) ? 1 : 0);
  }

  /** Staleness, UT1−UTC age, status row (event on change), gauges; rolls the schedule horizon hourly. */
  statusTick(): StatusSnapshot {
    this.saveSchedule();
    const now = this.o.clock.now();
    const dut1S = this.o.dut1.valueAt(now);
    const age = this.o.dut1.ageDays(now);
    this.o.metrics.dut1.set(dut1S);
    this.o.metrics.eopAge.set(age === null ? Number.NaN : age * 86_400);
    const snap = buildStatus({
      nowMs: now,
      site: this.o.site,
      dut1S,
      dut1Source: this.o.dut1.kind,
      eopAgeDays: age,
      detector: this.detector,
      schedule: this.schedule,
      upcomingCount: this.o.cfg.upcomingCount,
      lastObservationMs: this.lastObservationMs,
      stale: this.stale || now - this.lastHeaderMs > this.o.cfg.staleAfterS * 1000,
      model: this.scheduleCfg.model,
    });
    const key = statusKey(snap);
    const becameStale = snap.stale && !this.stale;
    this.o.db.write((c) => {
      if (becameStale) {
        raiseDataStale(c, now, {
          silentForSec: Math.round((now - this.lastHeaderMs) / 1000),
          staleAfterS: this.o.cfg.staleAfterS,
          lastObservationUtc: snap.lastObservationUtc,
        });
      }
      updateEopAlert(c, now, age, this.o.cfg.maxIersAgeDays);
      // Compared with the stored snapshot, not one kept in memory: a restart with nothing changed is quiet.
      const changed = storedStatusKey(c) !== key;
      writeStatus(c, snap, now);
      if (changed) appendEvent(c, { topic: 'pointing', type: 'pointing.status', payload: snap }, now);
    });
    if (becameStale) this.stale = true;
    this.o.metrics.dataStale.set(this.stale ? 1 : 0);
    this.updateTransitGauges(now);
    // Roll the horizon forward hourly (not on every tick).
    if (this.scheduledToMs < now + (this.o.cfg.horizonHours - 1) * HOUR_MS)
      this.refreshSchedule(now - HOUR_MS);
    return snap;
  }

  stop(): void {
    this.windows.stop();
  }
}

/** The change key of the stored status snapshot; null when there is none or it cannot be read. */
function storedStatusKey(c: Connection): string | null {
  try {
    const prev = readStatus(c);
    return prev ? statusKey(prev.snapshot as StatusSnapshot) : null;
  } catch {
    return null;
  }
}

function readCalibratorFile(file: string): Calibrator[] {
  try {
    return loadCalibratorFile(file);
  } catch (e) {
    throw new ConfigError(`pointingMonitor.vlaCalibratorFile: ${file}: ${(e as Error).message}`, [
      'pointingMonitor.vlaCalibratorFile: unreadable',
    ]);
  }
}
