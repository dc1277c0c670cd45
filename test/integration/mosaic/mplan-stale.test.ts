// mosaic acceptance 14: MosaicStale with an injected clock. Images keep arriving while builds fail (no plan ever
// reaches `built`): the alert fires once an eligible image is staleAfterS old and uncovered, and the next
// built mosaic that covers it resolves it. With no images at all the watchdog stays silent.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import { JobRunner } from '../../../daemons/scheduler/runner.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { firing, sample, schedulerEnv, type SchedulerEnv } from '../scheduler/helpers.js';
import { addRun, CADENCE_MS, plans } from './mplan-helpers.js';

let dir = '';
let env: SchedulerEnv | undefined;
afterEach(() => {
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

const STALE_S = 1800;
const MOSAIC = {
  scheduler: { mosaic: { tiers: { quicklook: { staleAfterS: STALE_S }, science: { enabled: false } } } },
};
const T0 = Date.parse('2025-12-05T08:00:00Z');

async function watchdog(e: SchedulerEnv) {
  const out = await new JobRunner(e.ctx).run({
    job: 'mosaicWatchdog',
    trigger: 'manual',
    scheduledFor: null,
  });
  expect(out.result).toBe('ok');
  return firing(e.statePath).filter((f) => f.startsWith('MosaicStale'));
}

describe('mosaic acceptance 14: staleness', () => {
  it('fires after staleAfterS while builds fail and images arrive, and resolves on the next build', async () => {
    dir = makeTmpDir('contimg-mplan-14-');
    const clock = new ManualClock(T0);
    env = await schedulerEnv(dir, MOSAIC, { clock });
    const img = path.join(dir, 'images');
    let n = 0;
    const observe = (count: number) => {
      addRun(env!.ctx.state, env!.pipelineRw, {
        dir: img,
        prefix: `s${n}_`,
        firstMidMs: T0 + n * CADENCE_MS,
        n: count,
      });
      n += count;
    };
    observe(4);
    // The images are younger than staleAfterS: not late yet.
    clock.set(T0 + 4 * CADENCE_MS);
    expect(await watchdog(env)).toEqual([]);

    // Half an hour on, the first images are staleAfterS old with no built mosaic (the builds "fail").
    observe(6);
    clock.set(T0 + STALE_S * 1000 + 2 * CADENCE_MS);
    const failedPlan = {
      name: 'quicklook_d+55.6_20251205T0800_0851',
      state: 'failed',
      windowEnd: T0 + 10 * CADENCE_MS,
    };
    env.ctx.state.write((c) =>
      c
        .prepare(
          `INSERT INTO mosaic_plans (name, base_name, tier, trigger, strip_dec_deg, window_start, window_end, inputs_hash,
             state, error_code, created_at, updated_at)
           VALUES (?, ?, 'quicklook', 'cron', 55.57, ?, ?, 'x', ?, 'build_error', ?, ?)`,
        )
        .run(failedPlan.name, failedPlan.name, T0, failedPlan.windowEnd, failedPlan.state, T0, T0),
    );
    // A minute before the first image is staleAfterS old: nothing yet; then it is.
    clock.set(T0 + STALE_S * 1000 - 60_000);
    expect(await watchdog(env)).toEqual([]);
    clock.set(T0 + STALE_S * 1000 + 2 * CADENCE_MS);
    expect(await watchdog(env)).toEqual(['MosaicStale{+55.6,quicklook}:warning']);
    // Still failing ten minutes later: the same alert, still firing.
    clock.advance(600_000);
    expect(await watchdog(env)).toEqual(['MosaicStale{+55.6,quicklook}:warning']);

    // A build succeeds: the plan is built and covers the late images.
    env.ctx.state.write((c) =>
      c
        .prepare("UPDATE mosaic_plans SET state = 'built', updated_at = ? WHERE name = ?")
        .run(clock.now(), failedPlan.name),
    );
    expect(plans(env.ctx.state).map((p) => p.state)).toEqual(['built']);
    expect(await watchdog(env)).toEqual([]);
    expect(
      await sample(
        env.registry,
        'contimg_mosaic_last_built_window_end_seconds{tier="quicklook",strip="+55.6"}',
      ),
    ).toBe(failedPlan.windowEnd / 1000);
    expect(await sample(env.registry, 'contimg_mosaic_lag_seconds{tier="quicklook"}')).toBe(
      (clock.now() - failedPlan.windowEnd) / 1000,
    );
  });

  it('stays silent with no images at all', async () => {
    dir = makeTmpDir('contimg-mplan-14b-');
    const clock = new ManualClock(T0);
    env = await schedulerEnv(dir, MOSAIC, { clock });
    for (const step of [0, STALE_S * 1000, 3 * STALE_S * 1000, 86_400_000]) {
      clock.set(T0 + step);
      expect(await watchdog(env)).toEqual([]);
    }
  });
});
