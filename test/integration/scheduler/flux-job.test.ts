// The flux job against a real pipeline database: the research fixtures give the expected alerts; re-running
// hourly with unchanged data keeps one firing alert per finding (one episode, one `fired` event: the
// dispatcher sends one notification); data back to ±1 % resolves it once. Each run is a job_runs row.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import { JobRunner } from '../../../daemons/scheduler/runner.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { alertsIn, firing, mjdOf, sample, schedulerEnv, type SchedulerEnv } from './helpers.js';

let env: SchedulerEnv | undefined;
let dir = '';
afterEach(() => {
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

const H = 3_600_000;
const T0 = Date.parse('2026-03-01T12:00:00Z');

function insert(db: Database.Database, cal: string, ratios: number[], endMs: number, catalog = 10): void {
  const ins = db.prepare(
    `INSERT INTO calibration_monitoring (calibrator_name, ms_path, observed_flux_jy, catalog_flux_jy, flux_ratio,
       frequency_ghz, mjd, created_at) VALUES (?, ?, ?, ?, ?, 1.405, ?, ?)`,
  );
  ratios.forEach((r, i) => {
    const t = endMs - (ratios.length - i) * H;
    ins.run(cal, `/ms/${cal}_${t}.ms`, r * catalog, catalog, catalog > 0 ? r : 0, mjdOf(t), t / 1000);
  });
}

const ramp = (step: number) => Array.from({ length: 10 }, (_, i) => 1 + step * i);

function fluxEvents(statePath: string): { alertname: string; event: string; calibrator: string }[] {
  const db = new Database(statePath, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT a.alertname, e.event, json_extract(a.labels, '$.calibrator') AS calibrator FROM alert_events e
         JOIN alerts a USING (fingerprint) WHERE a.source = 'flux' ORDER BY e.id`,
      )
      .all() as { alertname: string; event: string; calibrator: string }[];
  } finally {
    db.close();
  }
}

describe('flux job', () => {
  it('alerts on the fixtures, keeps one episode across hourly re-runs, resolves once on recovery', async () => {
    dir = makeTmpDir('contimg-flux-');
    const clock = new ManualClock(T0);
    env = await schedulerEnv(dir, {}, { clock });
    const p = env.pipelineRw;
    insert(p, 'RISE27', ramp(0.03), T0);
    insert(p, 'RISE36', ramp(0.04), T0);
    insert(p, 'RISE45', ramp(0.05), T0);
    insert(p, 'FLAT', [1.01, 0.99, 1.01, 0.99, 1.0], T0);
    insert(p, 'TWO', [1.0, 1.9], T0);
    insert(p, 'BADCAT', [1, 1, 1], T0, 0);
    insert(p, 'LOW', [0.7, 0.7, 0.7, 0.7], T0);
    const runner = new JobRunner(env.ctx);

    const first = await runner.run({ job: 'flux', trigger: 'manual', scheduledFor: null });
    expect(first.result).toBe('ok');
    const expected = [
      'CalibratorFluxDrift{RISE27}:warning',
      'CalibratorFluxDrift{RISE36}:warning',
      'CalibratorFluxDrift{RISE45}:critical',
      'CalibratorFluxScaleOffset{LOW}:warning',
      'CalibratorFluxScaleOffset{RISE27}:warning',
      'CalibratorFluxScaleOffset{RISE36}:warning',
      'CalibratorFluxScaleOffset{RISE45}:warning',
    ];
    expect(firing(env.statePath)).toEqual(expected);
    expect((first.summary as { excluded: number }).excluded).toBe(3);
    expect(alertsIn(env.statePath).every((a) => a.labels.host === 'testhost')).toBe(true);
    expect(await sample(env.registry, 'contimg_flux_drift_percent{calibrator="RISE45"}')).toBeCloseTo(45, 6);
    expect(await sample(env.registry, 'contimg_flux_measurements{calibrator="FLAT"}')).toBe(5);
    expect(await sample(env.registry, 'contimg_flux_is_stable{calibrator="LOW"}')).toBe(0);
    expect(await sample(env.registry, 'contimg_flux_excluded_rows')).toBe(3);

    // Hourly re-runs, data unchanged: still the same alerts, each in its first episode, fired once.
    for (let h = 0; h < 3; h++) {
      clock.advance(H);
      expect((await runner.run({ job: 'flux', trigger: 'cron', scheduledFor: clock.now() })).result).toBe(
        'ok',
      );
    }
    expect(firing(env.statePath)).toEqual(expected);
    expect(alertsIn(env.statePath).every((a) => a.episode === 1)).toBe(true);
    const fired = fluxEvents(env.statePath).filter((e) => e.event === 'fired');
    expect(fired).toHaveLength(expected.length);
    expect(fluxEvents(env.statePath).filter((e) => e.event === 'updated')).toHaveLength(0);

    // RISE27 back to ±1 %: its drift and scale offset resolve once; the others stay.
    p.prepare("DELETE FROM calibration_monitoring WHERE calibrator_name = 'RISE27'").run();
    insert(p, 'RISE27', [1.01, 0.99, 1.01, 0.99, 1.0], clock.now());
    clock.advance(H);
    await runner.run({ job: 'flux', trigger: 'cron', scheduledFor: clock.now() });
    expect(firing(env.statePath)).toEqual(expected.filter((e) => !e.includes('RISE27')));
    const resolved = fluxEvents(env.statePath).filter((e) => e.event === 'resolved');
    expect(resolved.map((e) => `${e.alertname}{${e.calibrator}}`).sort()).toEqual([
      'CalibratorFluxDrift{RISE27}',
      'CalibratorFluxScaleOffset{RISE27}',
    ]);
    clock.advance(H);
    await runner.run({ job: 'flux', trigger: 'cron', scheduledFor: clock.now() });
    expect(fluxEvents(env.statePath).filter((e) => e.event === 'resolved')).toHaveLength(2);

    const db = new Database(env.statePath, { readonly: true });
    const runs = db
      .prepare("SELECT trigger, result, summary FROM job_runs WHERE job = 'flux' ORDER BY id")
      .all() as {
      trigger: string;
      result: string;
      summary: string;
    }[];
    db.close();
    expect(runs.map((r) => `${r.trigger}:${r.result}`)).toEqual(['manual:ok', ...Array(5).fill('cron:ok')]);
    expect(
      JSON.parse(runs[0].summary).calibrators.find((c: { calibrator: string }) => c.calibrator === 'RISE45'),
    ).toMatchObject({
      n: 10,
      drift: 'critical',
      driftPct: 45,
    });
  });

  it('no measurement for 40 h fires CalibratorFluxNoData; a new one resolves it', async () => {
    dir = makeTmpDir('contimg-flux-');
    const clock = new ManualClock(T0);
    env = await schedulerEnv(dir, {}, { clock });
    insert(env.pipelineRw, 'A', [1, 1, 1], T0 - 37 * H);
    const runner = new JobRunner(env.ctx);
    await runner.run({ job: 'flux', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toEqual(['CalibratorFluxNoData:warning']);
    insert(env.pipelineRw, 'A', [1], T0);
    await runner.run({ job: 'flux', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toEqual([]);
  });
});
