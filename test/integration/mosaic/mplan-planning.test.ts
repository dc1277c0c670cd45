// Mosaic planning against real SQLite files and real FITS files: mosaic acceptance 1 (idempotent quicklook
// planning), test 2 (selection and counted rejections), test 3 (late inputs), and the frame rule of test 6
// (the real B1950 ngc1316r.fit mixed with J2000 tiles).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import { planMosaicWindow } from '../../../daemons/scheduler/mosaic/plan-job.js';
import { JobRunner } from '../../../daemons/scheduler/runner.js';
import { makeTmpDir, removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';
import { schedulerEnv, type SchedulerEnv } from '../scheduler/helpers.js';
import { addImage, addRun, CADENCE_MS, mosaicEvents, mosaicJobs, plans } from './mplan-helpers.js';

let dir = '';
let env: SchedulerEnv | undefined;
afterEach(() => {
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

const STEP_MS = 8 * CADENCE_MS;
const D = Date.parse('2025-12-05T00:00:00Z');
const at = (hhmmss: string) => Date.parse(`2025-12-05T${hhmmss}Z`);

describe('mosaic acceptance 1: idempotent quicklook planning', () => {
  it('14 contiguous images at +55.57°: two ticks make one plan, one queue job, one inputs_hash', async () => {
    dir = makeTmpDir('contimg-mplan-1-');
    // The first observation's tile starts on the quicklook grid (multiples of 8 cadences since the epoch).
    const tileStart = Math.ceil((D + 10 * 3_600_000) / STEP_MS) * STEP_MS;
    const clock = new ManualClock(tileStart + 4_500_000);
    env = await schedulerEnv(dir, {}, { clock });
    const run = addRun(env.ctx.state, env.pipelineRw, {
      dir: path.join(dir, 'images'),
      prefix: 'ql',
      firstMidMs: tileStart + CADENCE_MS / 2,
      n: 14,
    });
    const runner = new JobRunner(env.ctx);
    const first = await runner.run({ job: 'mosaicQuicklook', trigger: 'manual', scheduledFor: null });
    expect(first.result).toBe('ok');
    clock.advance(600_000);
    const second = await runner.run({ job: 'mosaicQuicklook', trigger: 'manual', scheduledFor: null });
    expect(second.result).toBe('ok');

    const rows = plans(env.ctx.state);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'queued', n_selected: 10 });
    expect(rows[0]!.name).toMatch(/^quicklook_d\+55\.6_\d{8}T\d{4}_\d{4}$/);
    const jobs = mosaicJobs(env.ctx.state);
    expect(jobs).toHaveLength(1);
    expect(JSON.parse(jobs[0]!.payload)).toEqual({ planId: rows[0]!.id });
    expect(jobs[0]).toMatchObject({ dedupe_key: `mosaic:${rows[0]!.id}`, state: 'queued' });
    expect(rows[0]!.job_id).toBe(jobs[0]!.id);
    const inputs = env.ctx.state.read(
      (c) =>
        c.prepare('SELECT path FROM mosaic_plan_inputs WHERE plan_id = ? ORDER BY ord').all(rows[0]!.id) as {
          path: string;
        }[],
    );
    expect(inputs.map((i) => i.path)).toEqual(run.slice(0, 10).map((r) => r.path));
    expect(second.summary).toMatchObject({ outcomes: { duplicate: 1 }, plans: [] });
    expect(mosaicEvents(env.ctx.state).map((e) => e.type)).toEqual(['mosaic.planned']);
    expect(new Set(rows.map((r) => r.inputs_hash)).size).toBe(1);
  });
});

describe('mosaic acceptance 2: selection', () => {
  it('keeps exactly the eligible contiguous run and counts each rejection reason', async () => {
    dir = makeTmpDir('contimg-mplan-2-');
    env = await schedulerEnv(dir, {}, { clock: new ManualClock(D + 2 * 86_400_000) });
    const { state } = env.ctx;
    const rw = env.pipelineRw;
    const img = path.join(dir, 'images');
    // Two images of another strip (+30°).
    addImage(state, rw, { dir: img, stem: 'far0', obsMidMs: at('10:00:20'), decDeg: 30 });
    addImage(state, rw, { dir: img, stem: 'far1', obsMidMs: at('10:02:00'), decDeg: 30 });
    // Eight observations at +55.57°: 2 too noisy, 4 missing, 6 a CASA directory with no .fits; 1 also has a residual.
    const a0 = at('10:04:00');
    const good: string[] = [];
    for (let i = 0; i < 8; i++) {
      const obsMidMs = a0 + i * CADENCE_MS;
      const stem = `obs${i}`;
      if (i === 2) addImage(state, rw, { dir: img, stem, obsMidMs, noiseJy: 0.005 });
      else if (i === 4) addImage(state, rw, { dir: img, stem, obsMidMs, noFile: true });
      else if (i === 6)
        addImage(state, rw, { dir: img, stem, obsMidMs, file: `${stem}.image`, directory: true });
      else good.push(addImage(state, rw, { dir: img, stem, obsMidMs }).path);
      if (i === 1)
        addImage(state, rw, {
          dir: img,
          stem: 'obs1r',
          obsMidMs,
          file: 'obs1.residual.fits',
          msOf: path.join(img, 'obs1.ms'),
        });
    }
    // An 8-minute gap, then two more observations: cut off from the run.
    const b0 = a0 + 7 * CADENCE_MS + 480_000;
    addImage(state, rw, { dir: img, stem: 'late0', obsMidMs: b0 });
    addImage(state, rw, { dir: img, stem: 'late1', obsMidMs: b0 + CADENCE_MS });

    const report = await planMosaicWindow(env.ctx, {
      tier: 'science',
      window: { fromMs: D, toMs: D + 86_400_000 },
      stripDeg: 55.57,
      trigger: 'cli',
    });
    const rows = plans(state);
    expect(rows.map((r) => r.name)).toEqual(['science_d+55.6_20251205T1000_1100']);
    expect(rows[0]!.state).toBe('queued');
    const inputs = state.read(
      (c) =>
        c.prepare('SELECT path FROM mosaic_plan_inputs WHERE plan_id = ? ORDER BY ord').all(rows[0]!.id) as {
          path: string;
        }[],
    );
    expect(inputs.map((i) => i.path)).toEqual(good);
    expect(JSON.parse(rows[0]!.rejected_json)).toEqual({
      dec: 2,
      noise: 1,
      missing: 1,
      format: 1,
      type: 1,
      gap: 2,
    });
    expect(report.result.rejected).toEqual({ dec: 2, noise: 1, missing: 1, format: 1, type: 1, gap: 2 });
    expect(report.writes.map((w) => w.outcome)).toEqual(['planned']);
  });
});

describe('mosaic acceptance 3: late inputs', () => {
  it('supersedes a queued plan with _v2; against a building plan emits mosaic.late_inputs and builds nothing more', async () => {
    dir = makeTmpDir('contimg-mplan-3-');
    env = await schedulerEnv(
      dir,
      { scheduler: { mosaic: { tiers: { science: { replanLate: false } } } } },
      { clock: new ManualClock(D + 2 * 86_400_000) },
    );
    const { state } = env.ctx;
    const img = path.join(dir, 'images');
    const a0 = at('12:02:00');
    const mids = Array.from({ length: 8 }, (_, i) => a0 + i * CADENCE_MS);
    // Observations 0..7 happened; the images of 6 and 7 are registered late.
    for (let i = 0; i < 6; i++)
      addImage(state, env.pipelineRw, { dir: img, stem: `o${i}`, obsMidMs: mids[i]! });
    const req = {
      tier: 'science' as const,
      window: { fromMs: D, toMs: D + 86_400_000 },
      trigger: 'cron' as const,
    };
    await planMosaicWindow(env.ctx, req);
    let rows = plans(state);
    expect(rows.map((r) => [r.name, r.state, r.n_selected])).toEqual([
      ['science_d+55.6_20251205T1200_1300', 'queued', 6],
    ]);

    addImage(state, env.pipelineRw, { dir: img, stem: 'o6', obsMidMs: mids[6]! });
    const second = await planMosaicWindow(env.ctx, req);
    expect(second.writes.map((w) => w.outcome)).toEqual(['superseded']);
    rows = plans(state);
    expect(rows.map((r) => [r.name, r.state, r.n_selected])).toEqual([
      ['science_d+55.6_20251205T1200_1300', 'superseded', 6],
      ['science_d+55.6_20251205T1200_1300_v2', 'queued', 7],
    ]);
    expect(rows[0]!.superseded_by).toBe(rows[1]!.id);
    expect(mosaicJobs(state).map((j) => j.state)).toEqual(['cancelled', 'queued']);

    // The dispatcher took v2: building.
    state.write((c) => c.prepare("UPDATE mosaic_plans SET state = 'building' WHERE id = ?").run(rows[1]!.id));
    addImage(state, env.pipelineRw, { dir: img, stem: 'o7', obsMidMs: mids[7]! });
    const third = await planMosaicWindow(env.ctx, req);
    expect(third.writes.map((w) => w.outcome)).toEqual(['late']);
    // The next tick sees the same late inputs: reported once.
    const fourth = await planMosaicWindow(env.ctx, req);
    expect(fourth.writes.map((w) => w.outcome)).toEqual(['duplicate']);
    expect(plans(state)).toHaveLength(2);
    expect(mosaicJobs(state)).toHaveLength(2);
    const events = mosaicEvents(state);
    expect(events.map((e) => e.type)).toEqual([
      'mosaic.planned',
      'mosaic.planned',
      'mosaic.superseded',
      'mosaic.late_inputs',
    ]);
    expect(events[3]!.payload).toMatchObject({
      name: 'science_d+55.6_20251205T1200_1300_v2',
      state: 'building',
      nNew: 8,
    });
  });
});

describe('mosaic acceptance 3 (science, replanLate)', () => {
  it('against a building science plan makes _v2 beside it (trigger replan) with its own job', async () => {
    dir = makeTmpDir('contimg-mplan-3b-');
    env = await schedulerEnv(dir, {}, { clock: new ManualClock(D + 2 * 86_400_000) });
    const { state } = env.ctx;
    const img = path.join(dir, 'images');
    const a0 = at('12:02:00');
    for (let i = 0; i < 6; i++)
      addImage(state, env.pipelineRw, { dir: img, stem: `o${i}`, obsMidMs: a0 + i * CADENCE_MS });
    const req = {
      tier: 'science' as const,
      window: { fromMs: D, toMs: D + 86_400_000 },
      trigger: 'cron' as const,
    };
    await planMosaicWindow(env.ctx, req);
    state.write((c) => c.prepare("UPDATE mosaic_plans SET state = 'building'").run());
    addImage(state, env.pipelineRw, { dir: img, stem: 'o6', obsMidMs: a0 + 6 * CADENCE_MS });
    const late = await planMosaicWindow(env.ctx, req);
    expect(late.writes.map((w) => w.outcome)).toEqual(['late']);
    const rows = state.read(
      (c) =>
        c.prepare('SELECT name, state, trigger, n_selected FROM mosaic_plans ORDER BY id').all() as unknown[],
    );
    expect(rows).toEqual([
      { name: 'science_d+55.6_20251205T1200_1300', state: 'building', trigger: 'cron', n_selected: 6 },
      { name: 'science_d+55.6_20251205T1200_1300_v2', state: 'queued', trigger: 'replan', n_selected: 7 },
    ]);
    expect(mosaicJobs(state)).toHaveLength(2);
    expect((await planMosaicWindow(env.ctx, req)).writes.map((w) => w.outcome)).toEqual(['duplicate']);
  });
});

describe('mosaic acceptance 6 (planning): frames', () => {
  it('rejects the B1950 ngc1316r.fit mixed with J2000 tiles as `frame`', async () => {
    dir = makeTmpDir('contimg-mplan-6-');
    env = await schedulerEnv(dir, {}, { clock: new ManualClock(D + 2 * 86_400_000) });
    const img = path.join(dir, 'images');
    const a0 = at('14:02:00');
    const ngc = path.join(SHARED_DATA, 'fits', 'ngc1316r.fit');
    expect(fs.existsSync(ngc)).toBe(true);
    for (let i = 0; i < 6; i++)
      addImage(env.ctx.state, env.pipelineRw, {
        dir: img,
        stem: `j${i}`,
        obsMidMs: a0 + i * CADENCE_MS,
        decDeg: -37.39,
      });
    const b = addImage(env.ctx.state, env.pipelineRw, {
      dir: img,
      stem: 'ngc',
      obsMidMs: a0 + 6 * CADENCE_MS,
      decDeg: -37.39,
      copyFrom: ngc,
    });
    const report = await planMosaicWindow(env.ctx, {
      tier: 'science',
      window: { fromMs: D, toMs: D + 86_400_000 },
      trigger: 'cli',
      dryRun: true,
    });
    expect(report.result.units).toHaveLength(1);
    const unit = report.result.units[0]!;
    expect(unit.frame).toBe('FK5/2000');
    expect(unit.inputs.map((i) => i.path)).not.toContain(b.path);
    expect(unit.inputs).toHaveLength(6);
    expect(unit.rejected).toEqual({ frame: 1 });
    expect(plans(env.ctx.state)).toEqual([]);
  });
});

describe('a plan its builder found changed (input_changed)', () => {
  it('is planned again as the next version once the planner sees the new inputs; the same inputs make nothing', async () => {
    dir = makeTmpDir('contimg-mplan-changed-');
    env = await schedulerEnv(dir, {}, { clock: new ManualClock(D + 2 * 86_400_000) });
    const { state } = env.ctx;
    const img = path.join(dir, 'images');
    const a0 = at('14:02:00');
    const made = Array.from({ length: 6 }, (_, i) =>
      addImage(state, env!.pipelineRw, { dir: img, stem: `c${i}`, obsMidMs: a0 + i * CADENCE_MS }),
    );
    const req = {
      tier: 'science' as const,
      window: { fromMs: D, toMs: D + 86_400_000 },
      trigger: 'cron' as const,
    };
    await planMosaicWindow(env.ctx, req);
    const [first] = plans(state);
    // What the dispatcher writes when the builder exits 5 input_changed: superseded, no successor.
    state.write((c) =>
      c
        .prepare("UPDATE mosaic_plans SET state = 'superseded', superseded_by = NULL WHERE id = ?")
        .run(first!.id),
    );
    const same = await planMosaicWindow(env.ctx, req);
    expect(same.writes.map((w) => w.outcome)).toEqual(['duplicate']);
    expect(plans(state)).toHaveLength(1);

    // The file really changed (rewritten with another size and mtime): the planner plans it again.
    fs.appendFileSync(made[2]!.path, Buffer.alloc(2880));
    const again = await planMosaicWindow(env.ctx, req);
    expect(again.writes.map((w) => w.outcome)).toEqual(['planned']);
    const rows = plans(state);
    expect(rows.map((r) => [r.name, r.state])).toEqual([
      [first!.name, 'superseded'],
      [`${first!.name}_v2`, 'queued'],
    ]);
    expect(rows[0]!.superseded_by).toBe(rows[1]!.id);
    expect(mosaicJobs(state).map((j) => j.state)).toEqual(['queued', 'queued']);
  });
});
