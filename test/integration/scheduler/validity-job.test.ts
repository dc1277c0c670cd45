// The validity job against a real pipeline database and real table directories: covering complete set, a
// set missing gain, a retired set (ignored), an open-ended set, two overlapping sets with different refants,
// a table deleted on disk; the alerts, their severities and the gauges. Then the nearest-age variants.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import { JobRunner } from '../../../daemons/scheduler/runner.js';
import { upsertTransit } from '../../../daemons/pointing-monitor/store.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { firing, mjdOf, sample, schedulerEnv, type SchedulerEnv } from './helpers.js';

let env: SchedulerEnv | undefined;
let dir = '';
afterEach(() => {
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

const H = 3_600_000;
const NOW = Date.parse('2026-03-01T12:00:00Z');

function addSet(
  db: Database.Database,
  root: string,
  name: string,
  types: string[],
  window: [number | null, number | null],
  o: { status?: string; refant?: string; createdMs?: number; onDisk?: boolean } = {},
): string[] {
  const ins = db.prepare(
    `INSERT INTO caltables (set_name, path, table_type, order_index, cal_field, refant, created_at, valid_start_mjd,
       valid_end_mjd, status) VALUES (?, ?, ?, ?, '3C286', ?, ?, ?, ?, ?)`,
  );
  return types.map((t, i) => {
    const p = path.join(root, name, `${name}_${t.toLowerCase()}cal`);
    if (o.onDisk !== false) fs.mkdirSync(p, { recursive: true });
    ins.run(
      name,
      p,
      t,
      10 * (i + 1),
      o.refant ?? '103',
      (o.createdMs ?? window[1] ?? window[0] ?? NOW) / 1000,
      window[0] === null ? null : mjdOf(window[0]),
      window[1] === null ? null : mjdOf(window[1]),
      o.status ?? 'active',
    );
    return p;
  });
}

describe('validity job', () => {
  it('finds the registry fixtures, with the type mapping, severities and gauges', async () => {
    dir = makeTmpDir('contimg-validity-');
    const clock = new ManualClock(NOW);
    env = await schedulerEnv(dir, {}, { clock });
    const root = path.join(dir, 'caltables');
    const p = env.pipelineRw;
    const covering = addSet(p, root, 'covering', ['K', 'BA', 'GP'], [NOW - 0.5 * H, NOW + 1.5 * H], {
      createdMs: NOW - 0.3 * H,
    });
    addSet(p, root, 'nogain', ['K', 'BP'], [NOW - 6 * H, NOW - 4 * H]);
    addSet(p, root, 'retired', ['BP', 'GP'], [NOW - 1 * H, NOW + 1 * H], { status: 'retired', refant: '55' });
    addSet(p, root, 'open', ['BP', '2G'], [NOW - 3 * H, null], { createdMs: NOW - 3 * H });
    addSet(p, root, 'x1', ['BP', 'GA'], [NOW - 21 * H, NOW - 19 * H]);
    addSet(p, root, 'x2', ['BP', 'GA'], [NOW - 20 * H, NOW - 18 * H], { refant: '88' });
    addSet(p, root, 'old', ['BP', 'GP'], [NOW - 31 * H, NOW - 29 * H]);
    fs.rmSync(covering[2], { recursive: true });

    const out = await new JobRunner(env.ctx).run({ job: 'validity', trigger: 'manual', scheduledFor: null });
    expect(out.result).toBe('ok');
    expect(firing(env.statePath)).toEqual([
      'CalibrationOverlapConflict{x1,x2}:warning',
      'CalibrationTableMissing{covering}:critical',
    ]);
    const s = out.summary as { covering: string[]; expired: number; nearest: { set: string } };
    expect(s.covering.sort()).toEqual(['covering', 'open']); // the retired set covers now too, but is ignored
    expect(s.nearest.set).toBe('covering');
    const g = (name: string) => sample(env!.registry, name);
    expect(await g('contimg_validity_active_sets')).toBe(2);
    expect(await g('contimg_validity_until_expiry_seconds')).toBe(Infinity);
    expect(await g('contimg_validity_expiring_sets')).toBe(1);
    expect(await g('contimg_validity_expired_sets')).toBe(3); // nogain, x1, x2; not 'old' (29 h ago)
    expect(await g('contimg_validity_incomplete_sets')).toBe(1);
    expect(await g('contimg_validity_overlap_conflicts')).toBe(1);
    expect(await g('contimg_validity_nearest_set_age_seconds')).toBeCloseTo(1800, 3);
    expect(await g('contimg_calibration_last_valid_timestamp_seconds')).toBeCloseTo(
      (NOW - 0.3 * H) / 1000,
      3,
    );

    // The gain table comes back, and the newest set is registered without gain: the findings follow.
    fs.mkdirSync(covering[2], { recursive: true });
    addSet(p, root, 'newest', ['K', 'BP'], [NOW - 0.1 * H, NOW + 1.9 * H], { createdMs: NOW });
    clock.advance(15 * 60_000);
    await new JobRunner(env.ctx).run({ job: 'validity', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toEqual([
      'CalibrationOverlapConflict{x1,x2}:warning',
      'CalibrationSetIncomplete{newest}:warning',
    ]);
  });

  it.each([
    [13, []],
    [25, []],
    [27, ['CalibrationStale:warning']],
    [49, ['CalibrationStale:critical']],
  ])('the nearest complete set %i h old gives %j', async (hours, expected) => {
    dir = makeTmpDir('contimg-validity-');
    env = await schedulerEnv(dir, {}, { clock: new ManualClock(NOW) });
    addSet(
      env.pipelineRw,
      path.join(dir, 'cal'),
      's',
      ['BP', 'GP'],
      [NOW - hours * H - H, NOW - hours * H + H],
    );
    await new JobRunner(env.ctx).run({ job: 'validity', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toEqual(expected);
    expect(await sample(env.registry, 'contimg_validity_nearest_set_age_seconds')).toBeCloseTo(
      hours * 3600,
      3,
    );
  });

  it("reads the pointing monitor's transits (its own writer) for CalibratorTransitMissed when turned on", async () => {
    dir = makeTmpDir('contimg-validity-');
    env = await schedulerEnv(
      dir,
      { scheduler: { validity: { transitCheck: { enabled: true } } } },
      { clock: new ManualClock(NOW) },
    );
    // The pointing monitor stores two transits; the converter's data matched both (has_data).
    env.ctx.state.write((c) => {
      for (const [name, at] of [
        ['3C286', NOW - 10 * H],
        ['J0834+555', NOW - 5 * H],
      ] as const)
        upsertTransit(
          c,
          {
            name,
            model: 'apparent',
            raDeg: 0,
            decDeg: 0,
            fluxJy: 10,
            transitMs: at,
            lstHours: 1,
            elevationDeg: 60,
            northOfZenith: false,
            dut1S: 0,
            decSepDeg: 0,
            pbResponse: 1,
            windowStartMs: at - 300_000,
            windowEndMs: at + 300_000,
            eligible: true,
          },
          0,
          NOW - 20 * H,
        );
      c.prepare('UPDATE calibrator_transits SET has_data = 1').run();
    });
    // Only the 3C286 transit got a calibration set.
    addSet(env.pipelineRw, path.join(dir, 'cal'), 'c3c286', ['BP', 'GP'], [NOW - 11 * H, NOW - 9 * H]);
    await new JobRunner(env.ctx).run({ job: 'validity', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toContain('CalibratorTransitMissed{J0834+555}:warning');
    expect(firing(env.statePath)).not.toContain('CalibratorTransitMissed{3C286}:warning');
  });
});
