// Transit windows end to end inside the monitor (fake timers): data at 16.27° around a 3C138 transit →
// window_open / peak / window_close events in the events table, the close matched to the covering group;
// and the incomingDir fallback when hdf5_files is empty.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BUILTIN_CALIBRATORS, nextTransit, parseUtc } from '../../../lib/astro/index.js';
import { systemClock } from '../../../lib/clock.js';
import { subbandFileName, writeSubbandFile } from '../../../lib/uvh5/index.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { addGroup, harness, metricValue, type Harness } from './helpers.js';

let h: Harness | undefined;
let dir: string;
afterEach(() => {
  h?.close();
  h = undefined;
  vi.useRealTimers();
  removeTmpDir(dir);
});

const C3C138 = BUILTIN_CALIBRATORS.find((c) => c.name === '3C138')!;

describe('transit windows in the database', () => {
  it('emits open, peak and close once each, to the second, and matches the transit to its group', async () => {
    dir = makeTmpDir('contimg-pointing-win-');
    const T = nextTransit(C3C138, parseUtc('2025-10-02T00:00:00Z')).utcMs;
    vi.useFakeTimers({ now: T - 900_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    h = await harness(dir, T - 900_000, {}, systemClock);
    h.monitor.init();
    const g1 = Math.floor((T - 459_000) / 1000) * 1000;
    const g2 = Math.floor((T - 150_000) / 1000) * 1000;
    addGroup(h.db, dir, g1, 16.27);
    addGroup(h.db, dir, g2, 16.27);
    expect(h.monitor.poll()).toBe(2);
    for (let i = 0; i < 1_300; i++) vi.advanceTimersByTime(1_000);
    const events = h.db.read((c) =>
      c
        .prepare(
          "SELECT type, payload, created_at FROM events WHERE topic = 'transit' AND type != 'transit.schedule_updated' ORDER BY seq",
        )
        .all(),
    ) as { type: string; payload: string; created_at: number }[];
    const mine = events.filter(
      (e) => (JSON.parse(e.payload) as { calibrator: string }).calibrator === '3C138',
    );
    expect(mine.map((e) => e.type)).toEqual(['transit.window_open', 'transit.peak', 'transit.window_close']);
    const at = mine.map((e) => e.created_at);
    expect(Math.abs(at[0] - (T - 300_000))).toBeLessThanOrEqual(1_000);
    expect(Math.abs(at[1] - T)).toBeLessThanOrEqual(1_000);
    expect(Math.abs(at[2] - (T + 300_000))).toBeLessThanOrEqual(1_000);
    const close = JSON.parse(mine[2].payload) as {
      hasData: boolean;
      groupId: string;
      deltaSec: number;
      decSepDeg: number;
    };
    expect(close).toMatchObject({ hasData: true, groupId: subbandFileName(g2, 0).slice(0, 19) });
    expect(close.decSepDeg).toBeCloseTo(0.3694, 4);
    expect(Math.abs(close.deltaSec)).toBeLessThan(160);
    expect(
      await metricValue(h.registry, 'contimg_pointing_transit_windows_total', {
        calibrator: '3C138',
        has_data: 'true',
      }),
    ).toBe(1);
    expect(
      await metricValue(h.registry, 'contimg_pointing_calibrator_in_window', { calibrator: '3C138' }),
    ).toBe(0);
    const row = h.db.read((c) =>
      c
        .prepare(
          "SELECT has_data, open_emitted_unix, close_emitted_unix FROM calibrator_transits WHERE calibrator_name = '3C138' AND abs(transit_unix - ?) < 1",
        )
        .get(T / 1000),
    ) as { has_data: number; open_emitted_unix: number | null; close_emitted_unix: number | null };
    expect(row.has_data).toBe(1);
    expect(row.open_emitted_unix).not.toBeNull();
    expect(row.close_emitted_unix).not.toBeNull();
  });
});

describe('incomingDir fallback', () => {
  it('reads settled sb00 files from the folder when hdf5_files is empty', async () => {
    dir = makeTmpDir('contimg-pointing-dir-');
    const t0 = parseUtc('2025-10-02T00:00:00Z');
    const incoming = path.join(dir, 'raw');
    h = await harness(dir, t0 + 6 * 60_000, { incomingDir: incoming });
    h.monitor.init();
    fs.mkdirSync(incoming);
    writeSubbandFile(path.join(incoming, subbandFileName(t0, 0)), {
      subband: 0,
      startMs: t0,
      decRad: (54.5734 * Math.PI) / 180,
    });
    writeSubbandFile(path.join(incoming, subbandFileName(t0, 1)), {
      subband: 1,
      startMs: t0,
      decRad: (54.5734 * Math.PI) / 180,
    });
    expect(h.monitor.poll()).toBe(0);
    expect(h.monitor.poll()).toBe(1);
    expect(h.monitor.poll()).toBe(0);
    expect(await metricValue(h.registry, 'contimg_pointing_declination_degrees')).toBeCloseTo(54.5734, 9);
  });
});
