// Declination changes from real headers indexed in hdf5_files, the
// rejected-epoch counter, schedule idempotence and the next-transit gauge with a frozen clock.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_CALIBRATORS, parseUtc } from '../../../lib/astro/index.js';
import { createMonitor } from '../../../daemons/pointing-monitor/run.js';
import { computeSchedule } from '../../../daemons/pointing-monitor/schedule.js';
import { upsertTransit } from '../../../daemons/pointing-monitor/store.js';
import { Registry } from '../../../lib/metrics.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { subbandFileName } from '../../../lib/uvh5/index.js';
import { addGroup, harness, indexFile, metricValue, type Harness } from './helpers.js';

const MIN = 60_000;
let h: Harness | undefined;
let dir: string;
afterEach(() => {
  h?.close();
  h = undefined;
  removeTmpDir(dir);
});

const count = (hh: Harness, sql: string, ...args: unknown[]): number =>
  (hh.db.read((c) => c.prepare(sql).get(...args)) as { n: number }).n;
const firing = (hh: Harness, name: string): boolean =>
  hh.db.read((c) => c.prepare("SELECT 1 FROM alerts WHERE alertname = ? AND status = 'firing'").get(name)) !==
  undefined;

describe('declination change detection (test 8)', () => {
  it('ignores a one-group glitch, confirms after two groups, closes the old segment, alerts right', async () => {
    dir = makeTmpDir('contimg-pointing-dec-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    h = await harness(dir, t0);
    const hh = h;
    hh.monitor.init();
    let k = 0;
    const feed = async (dec: number) => {
      const start = t0 + k * 5 * MIN;
      addGroup(hh.db, dir, start, dec);
      hh.clock.set(start + 6 * MIN);
      expect(hh.monitor.poll()).toBe(1);
      k++;
      return metricValue(hh.registry, 'contimg_pointing_slewing');
    };
    const changes = () => count(hh, "SELECT count(*) AS n FROM events WHERE type = 'pointing.dec_changed'");
    for (let i = 0; i < 20; i++) await feed(54.5734);
    expect(changes()).toBe(0);
    expect(await feed(16.27)).toBe(1);
    expect(await feed(54.5734)).toBe(0);
    expect(changes()).toBe(0);
    const lastOldStart = t0 + (k - 1) * 5 * MIN;
    await feed(16.27);
    await feed(16.27);
    expect(changes()).toBe(1);
    const ev = hh.db.read((c) =>
      c.prepare("SELECT payload FROM events WHERE type = 'pointing.dec_changed'").get(),
    ) as { payload: string };
    const payload = JSON.parse(ev.payload) as {
      oldDecDeg: number;
      newDecDeg: number;
      candidates: { name: string }[];
    };
    expect(Math.abs(payload.oldDecDeg - 54.5734)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(payload.newDecDeg - 16.27)).toBeLessThanOrEqual(1e-6);
    expect(payload.candidates.map((c) => c.name)).toContain('3C138');
    expect(count(hh, 'SELECT count(*) AS n FROM pointing_changes')).toBe(1);
    expect(await metricValue(hh.registry, 'contimg_pointing_declination_changes_total')).toBe(1);
    const old = hh.db.read((c) =>
      c.prepare("SELECT end_unix, n_groups FROM pointing_segments WHERE status = 'closed'").get(),
    ) as {
      end_unix: number;
      n_groups: number;
    };
    const lastOldMid = (lastOldStart + 12 * 12.884902 * 1000) / 1000;
    expect(Math.abs(old.end_unix - lastOldMid)).toBeLessThanOrEqual(1e-3);
    expect(old.n_groups).toBe(21);
    expect(firing(hh, 'PointingDeclinationChanged')).toBe(true);
    expect(firing(hh, 'NoCalibratorForDeclination')).toBe(false);
    expect(await metricValue(hh.registry, 'contimg_pointing_declination_degrees')).toBeCloseTo(16.27, 9);
    await feed(65.72);
    await feed(65.72);
    expect(firing(hh, 'NoCalibratorForDeclination')).toBe(true);
    expect(firing(hh, 'PointingOutsideEnvelope')).toBe(false);
    expect(count(hh, 'SELECT count(*) AS n FROM pointing_changes')).toBe(2);
  });

  it('counts an implausible epoch as rejected and records nothing', async () => {
    dir = makeTmpDir('contimg-pointing-rej-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    h = await harness(dir, t0 + 6 * MIN);
    h.monitor.init();
    addGroup(h.db, dir, t0, 54.5734, { contentStartMs: 86_400_000 });
    expect(h.monitor.poll()).toBe(0);
    expect(await metricValue(h.registry, 'contimg_pointing_header_reads_total', { result: 'rejected' })).toBe(
      1,
    );
    expect(count(h, 'SELECT count(*) AS n FROM pointing_observations')).toBe(0);
    expect(h.monitor.poll()).toBe(0);
    expect(await metricValue(h.registry, 'contimg_pointing_header_reads_total', { result: 'rejected' })).toBe(
      1,
    );
  });

  it('a run of 200 rejected headers does not hide the newer ones behind it', async () => {
    dir = makeTmpDir('contimg-pointing-rejrun-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    h = await harness(dir, t0 + 300 * MIN);
    h.monitor.init();
    const bad = addGroup(h.db, dir, t0, 54.5734, { contentStartMs: 86_400_000 });
    for (let i = 1; i < 200; i++) {
      const file = path.join(path.dirname(bad), subbandFileName(t0 + i * MIN, 0));
      fs.copyFileSync(bad, file);
      indexFile(h.db, file, t0 + i * MIN);
    }
    addGroup(h.db, dir, t0 + 250 * MIN, 54.5734);
    expect(h.monitor.poll()).toBe(0);
    expect(h.monitor.poll()).toBe(1);
    expect(count(h, 'SELECT count(*) AS n FROM pointing_observations')).toBe(1);
    // The failures are forgotten once their files leave the backfill window (6 h): no unbounded growth.
    const failed = (h.monitor as unknown as { failed: Map<string, number> }).failed;
    expect(failed.size).toBe(200);
    h.clock.set(t0 + 10 * 60 * MIN);
    h.monitor.poll();
    expect(failed.size).toBe(0);
  });

  it('raises PointingDataStale after staleAfterS and resolves it on the next header', async () => {
    dir = makeTmpDir('contimg-pointing-stale-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    h = await harness(dir, t0, { staleAfterS: 900 });
    h.monitor.init();
    h.clock.set(t0 + 16 * MIN);
    expect(h.monitor.statusTick().stale).toBe(true);
    expect(firing(h, 'PointingDataStale')).toBe(true);
    expect(await metricValue(h.registry, 'contimg_pointing_data_stale')).toBe(1);
    addGroup(h.db, dir, t0 + 10 * MIN, 54.5734);
    expect(h.monitor.poll()).toBe(1);
    expect(firing(h, 'PointingDataStale')).toBe(false);
    expect(await metricValue(h.registry, 'contimg_pointing_data_stale')).toBe(0);
    const resumed = h.db.read((c) =>
      c.prepare("SELECT payload FROM events WHERE type = 'pointing.resumed'").get(),
    ) as { payload: string };
    expect(JSON.parse(resumed.payload)).toMatchObject({
      lastObservationUtc: expect.stringMatching(/^2025-10-02T00:12:34/),
    });
    expect(h.monitor.statusTick().stale).toBe(false);
  });
});

describe('stale-data alert across a failed write', () => {
  it('a status write that rolls back does not swallow PointingDataStale: the next tick raises it', async () => {
    dir = makeTmpDir('contimg-pointing-stale-rb-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    h = await harness(dir, t0, { staleAfterS: 900 });
    const hh = h;
    hh.monitor.init();
    hh.clock.set(t0 + 16 * MIN);
    hh.db.write((c) => c.exec('ALTER TABLE pointing_status RENAME TO pointing_status_away'));
    expect(() => hh.monitor.statusTick()).toThrow();
    expect(firing(hh, 'PointingDataStale')).toBe(false);
    hh.db.write((c) => c.exec('ALTER TABLE pointing_status_away RENAME TO pointing_status'));
    expect(hh.monitor.statusTick().stale).toBe(true);
    expect(firing(hh, 'PointingDataStale')).toBe(true);
  });
});

describe('restarts and failed writes', () => {
  it('a restart with nothing changed does not announce pointing.status again', async () => {
    dir = makeTmpDir('contimg-pointing-restart-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    h = await harness(dir, t0);
    const statusEvents = (hh: Harness) =>
      count(hh, "SELECT count(*) AS n FROM events WHERE type = 'pointing.status'");
    h.monitor.init();
    h.monitor.statusTick();
    expect(statusEvents(h)).toBe(1);
    h.monitor.stop();
    const again = createMonitor({ ...h.deps, registry: new Registry() });
    again.init();
    again.statusTick();
    again.stop();
    expect(statusEvents(h)).toBe(1);
  });

  it('a schedule whose write fails is used at once and saved by the next status tick', async () => {
    dir = makeTmpDir('contimg-pointing-unsaved-');
    const t0 = parseUtc('2025-01-01T00:00:00Z');
    h = await harness(dir, t0);
    const hh = h;
    hh.monitor.init();
    const rows = () => count(hh, 'SELECT count(*) AS n FROM calibrator_transits');
    const before = rows();
    // The write fails (as it would with the database locked for longer than the write budget) ...
    hh.db.write((c) => c.exec('ALTER TABLE calibrator_transits RENAME TO transits_away'));
    hh.clock.advance(3 * 86_400_000);
    expect(() => hh.monitor.refreshSchedule(hh.clock.now())).toThrow();
    // ... but the new schedule is what the windows and the API use already.
    expect(hh.monitor.schedule.length).toBeGreaterThan(0);
    expect(hh.monitor.schedule.every((t) => t.windowEndMs >= hh.clock.now() - 2 * 3_600_000)).toBe(true);
    hh.db.write((c) => c.exec('ALTER TABLE transits_away RENAME TO calibrator_transits'));
    hh.monitor.statusTick();
    expect(rows()).toBeGreaterThan(before);
    const newest = hh.db.read((c) =>
      c.prepare('SELECT max(transit_unix) AS t FROM calibrator_transits').get(),
    ) as { t: number };
    expect(newest.t * 1000).toBeGreaterThan(hh.clock.now());
  });
});

describe('schedule in the database (test 10)', () => {
  it('rolls the horizon hourly, not on every status tick', async () => {
    dir = makeTmpDir('contimg-pointing-roll-');
    const t0 = parseUtc('2025-01-01T00:00:00Z');
    h = await harness(dir, t0);
    h.monitor.init();
    const updates = (hh: Harness) =>
      count(hh, "SELECT count(*) AS n FROM events WHERE type = 'transit.schedule_updated'");
    for (let i = 0; i < 5; i++) {
      h.clock.advance(30_000);
      h.monitor.statusTick();
    }
    expect(updates(h)).toBe(1);
    h.clock.advance(2 * 3_600_000);
    h.monitor.statusTick();
    h.monitor.statusTick();
    expect(updates(h)).toBe(2);
  });

  it('upserting the same 24 h schedule twice leaves 10 rows for both models', async () => {
    dir = makeTmpDir('contimg-pointing-sched-');
    const from = parseUtc('2025-01-01T00:00:00Z');
    h = await harness(dir, from);
    const hh = h;
    const cfg = { ...hh.monitor.scheduleCfg, watch: BUILTIN_CALIBRATORS.map((c) => c.name) };
    const write = () =>
      hh.db.write((c) => {
        for (const model of ['apparent', 'legacy'] as const)
          for (const t of computeSchedule(
            BUILTIN_CALIBRATORS,
            null,
            from,
            from + 86_400_000,
            { ...cfg, model },
            {},
          ))
            upsertTransit(c, t, null, from);
      });
    write();
    expect(count(hh, 'SELECT count(*) AS n FROM calibrator_transits')).toBe(10);
    write();
    expect(count(hh, 'SELECT count(*) AS n FROM calibrator_transits')).toBe(10);
    expect(
      count(
        hh,
        "SELECT count(DISTINCT calibrator_name) AS n FROM calibrator_transits WHERE model = 'legacy'",
      ),
    ).toBe(5);
  });

  it('the next-transit gauge for 3C286 with the clock frozen at 2025-01-01T00:00Z', async () => {
    dir = makeTmpDir('contimg-pointing-gauge-');
    h = await harness(dir, parseUtc('2025-01-01T00:00:00Z'));
    h.monitor.init();
    const v = await metricValue(h.registry, 'contimg_pointing_next_transit_timestamp_seconds', {
      calibrator: '3C286',
    });
    expect(Math.abs((v ?? 0) - 1735742364.748)).toBeLessThanOrEqual(0.25);
    const names = h.db.read((c) => c.prepare('SELECT name FROM calibrators ORDER BY name').all()) as {
      name: string;
    }[];
    expect(names.map((n) => n.name)).toEqual(['3C138', '3C147', '3C286', '3C48', 'J0834+555']);
  });

  it('upcoming_transits counts the transits ahead; an empty schedule gives 0 and no next-transit series', async () => {
    dir = makeTmpDir('contimg-pointing-gauge-');
    h = await harness(dir, parseUtc('2025-01-01T00:00:00Z'));
    h.monitor.init();
    const ahead = h.monitor.schedule.filter((t) => t.transitMs >= h!.clock.now()).length;
    expect(ahead).toBeGreaterThan(0);
    expect(await metricValue(h.registry, 'contimg_pointing_upcoming_transits')).toBe(ahead);
    h.close();
    removeTmpDir(dir);

    // No pointing known yet and no watch list: nothing to schedule (ContimgTransitScheduleEmpty).
    dir = makeTmpDir('contimg-pointing-gauge-');
    h = await harness(dir, parseUtc('2025-01-01T00:00:00Z'), { watchCalibrators: [] });
    h.monitor.init();
    expect(h.monitor.schedule).toEqual([]);
    expect(await metricValue(h.registry, 'contimg_pointing_upcoming_transits')).toBe(0);
    expect(await metricValue(h.registry, 'contimg_pointing_next_transit_timestamp_seconds')).toBeUndefined();
  });
});

describe('pointing.status across restarts', () => {
  it('emits pointing.status only when the status changed, compared with the stored one, not on every restart', async () => {
    dir = makeTmpDir('contimg-pointing-restart-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    h = await harness(dir, t0);
    const hh = h;
    const statusEvents = () => count(hh, "SELECT count(*) AS n FROM events WHERE type = 'pointing.status'");
    hh.monitor.init();
    addGroup(hh.db, dir, t0, 54.5734);
    hh.clock.set(t0 + 6 * MIN);
    hh.monitor.poll();
    hh.monitor.statusTick();
    expect(statusEvents()).toBe(1);
    hh.monitor.statusTick();
    expect(statusEvents()).toBe(1);
    for (let i = 0; i < 3; i++) {
      hh.clock.advance(1_000);
      const m = hh.restart();
      m.init();
      m.poll();
      m.statusTick();
      expect(statusEvents()).toBe(1);
    }
    // A real change after a restart is still announced.
    addGroup(hh.db, dir, t0 + 5 * MIN, 16.27);
    addGroup(hh.db, dir, t0 + 10 * MIN, 16.27);
    addGroup(hh.db, dir, t0 + 15 * MIN, 16.27);
    hh.clock.set(t0 + 21 * MIN);
    hh.monitor.poll();
    hh.monitor.statusTick();
    expect(statusEvents()).toBe(2);
  });
});
