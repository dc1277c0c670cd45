// The other plan outcomes against real files: an `empty` plan when every image of a due window was rejected
// (MosaicNoInputs fires with the reasons and resolves with the next plan that has inputs), and a unit too
// large for the builder's memory: split in RA (mosaic acceptance 15, planning part), or written `failed` with
// grid_too_large and no build job when even one image does not fit.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alertsIn, schedulerEnv, type SchedulerEnv } from '../scheduler/helpers.js';
import { ManualClock } from '../../../lib/clock.js';
import { planMosaicWindow } from '../../../daemons/scheduler/mosaic/plan-job.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { addImage, CADENCE_MS, mosaicEvents, mosaicJobs, plans } from './mplan-helpers.js';

let dir = '';
let env: SchedulerEnv | undefined;
afterEach(() => {
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

const D = Date.parse('2025-12-05T00:00:00Z');
const DAY = { fromMs: D, toMs: D + 86_400_000 };

describe('empty plans and MosaicNoInputs', () => {
  it('fires when every image was rejected, and resolves with the next plan that has inputs', async () => {
    dir = makeTmpDir('contimg-mplan-empty-');
    env = await schedulerEnv(dir, {}, { clock: new ManualClock(D + 2 * 86_400_000) });
    const { state } = env.ctx;
    const img = path.join(dir, 'images');
    for (let i = 0; i < 6; i++)
      addImage(state, env.pipelineRw, {
        dir: img,
        stem: `n${i}`,
        obsMidMs: D + 8 * 3_600_000 + 60_000 + i * CADENCE_MS,
        noiseJy: i < 4 ? 0.02 : 0.0005,
        noFile: i === 5,
      });
    const first = await planMosaicWindow(env.ctx, { tier: 'science', window: DAY, trigger: 'cron' });
    expect(first.writes.map((w) => w.outcome)).toEqual(['empty']);
    expect(plans(state)).toMatchObject([
      { name: 'science_d+55.6_20251205T0800_0900', state: 'empty', n_selected: 0, job_id: null },
    ]);
    // One eligible image is left, too few for minImages: it counts as `gap`.
    expect(JSON.parse(plans(state)[0]!.rejected_json)).toEqual({ noise: 4, missing: 1, gap: 1 });
    expect(mosaicJobs(state)).toEqual([]);
    let alerts = alertsIn(env.statePath).filter((a) => a.alertname === 'MosaicNoInputs');
    expect(alerts).toMatchObject([
      { status: 'firing', severity: 'warning', labels: { tier: 'science', strip: '+55.6' } },
    ]);
    const annotations = env.ctx.state.read(
      (c) =>
        c.prepare("SELECT annotations FROM alerts WHERE alertname = 'MosaicNoInputs'").get() as {
          annotations: string;
        },
    );
    expect(JSON.parse(annotations.annotations)).toMatchObject({
      description: 'rejected: noise 4, gap 1, missing 1',
    });

    // A later hour of the strip with good images: planned, and the alert resolves.
    for (let i = 0; i < 6; i++)
      addImage(state, env.pipelineRw, {
        dir: img,
        stem: `g${i}`,
        obsMidMs: D + 9 * 3_600_000 + 60_000 + i * CADENCE_MS,
      });
    const second = await planMosaicWindow(env.ctx, { tier: 'science', window: DAY, trigger: 'cron' });
    expect(second.writes.map((w) => w.outcome)).toEqual(['duplicate', 'planned']);
    alerts = alertsIn(env.statePath).filter((a) => a.alertname === 'MosaicNoInputs');
    expect(alerts).toMatchObject([{ status: 'resolved' }]);
  });
});

describe('mosaic acceptance 15 (planning): units too large for the builder', () => {
  async function plan(memoryMaxGb: number) {
    dir = makeTmpDir('contimg-mplan-large-');
    env = await schedulerEnv(
      dir,
      { scheduler: { mosaic: { builder: { memoryMaxGb }, grid: { pixelArcsec: 1 } } } },
      { clock: new ManualClock(D + 2 * 86_400_000) },
    );
    for (let i = 0; i < 8; i++)
      addImage(env.ctx.state, env.pipelineRw, {
        dir: path.join(dir, 'images'),
        stem: `l${i}`,
        obsMidMs: D + 14 * 3_600_000 + 60_000 + i * CADENCE_MS,
      });
    return planMosaicWindow(env.ctx, { tier: 'science', window: DAY, trigger: 'cron' });
  }

  it('splits a unit over memoryMaxGb in RA, each part within the limit, at the asked pixel', async () => {
    // 3.5° tiles at 1″: one tile alone is a 12,600² canvas (2.6 GiB with the overhead), two 1.29° apart at
    // +55.6° 3.1 GiB and 192 Mpx; all eight 390 Mpx, over maxCanvasPixels too.
    const r = await plan(3.2);
    const rows = plans(env!.ctx.state);
    expect(rows).toHaveLength(4);
    expect(rows.map((p) => p.n_selected)).toEqual([2, 2, 2, 2]);
    expect(rows.map((p) => p.name)).toEqual(
      rows.map((_, i) => `science_d+55.6_20251205T1400_1500_p${i + 1}`),
    );
    expect(rows.reduce((n, p) => n + p.n_selected, 0)).toBe(8);
    for (const u of r.result.units) {
      expect(u.estMemoryBytes!).toBeLessThanOrEqual(3.2 * 1024 ** 3);
      expect(u.grid!.nx * u.grid!.ny).toBeLessThanOrEqual(2e8);
      expect(u.grid!.pixel_arcsec).toBe(1);
    }
    expect(mosaicJobs(env!.ctx.state)).toHaveLength(rows.length);
  });

  it('writes failed:grid_too_large and no build job when one input alone does not fit', async () => {
    await plan(2);
    expect(plans(env!.ctx.state)).toMatchObject([
      { name: 'science_d+55.6_20251205T1400_1500', state: 'failed', n_selected: 8, job_id: null },
    ]);
    const row = env!.ctx.state.read(
      (c) =>
        c.prepare('SELECT error_code, grid_json FROM mosaic_plans').get() as {
          error_code: string;
          grid_json: null;
        },
    );
    expect(row).toEqual({ error_code: 'grid_too_large', grid_json: null });
    expect(mosaicJobs(env!.ctx.state)).toEqual([]);
    expect(mosaicEvents(env!.ctx.state).map((e) => e.type)).toEqual(['mosaic.failed']);

    // The operator raises the limit: the same inputs now fit, and the refused plan is superseded.
    const bigger = { ...env!.ctx, config: structuredClone(env!.ctx.config) };
    bigger.config.scheduler.mosaic.builder.memoryMaxGb = 64;
    bigger.config.scheduler.mosaic.grid.maxCanvasPixels = 1e9;
    const again = await planMosaicWindow(bigger, { tier: 'science', window: DAY, trigger: 'cli' });
    expect(again.writes.map((w) => w.outcome)).toEqual(['superseded']);
    expect(plans(env!.ctx.state).map((p) => [p.name, p.state])).toEqual([
      ['science_d+55.6_20251205T1400_1500', 'superseded'],
      ['science_d+55.6_20251205T1400_1500_v2', 'queued'],
    ]);
    expect(mosaicJobs(env!.ctx.state)).toHaveLength(1);
  });
});
