// mosaic acceptance 15 (gate part) and the operator's actions: free space below minFreeGbOutput pauses dispatch,
// sets contimg_mosaic_dispatch_paused{reason}, and raises MosaicDispatchPaused after 15 min (injected clock);
// requeue, cancel, pause and resume as functions on a real state database.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import { silentLogger } from '../../../lib/log.js';
import { createRegistry } from '../../../lib/metrics.js';
import { DispatchGate } from '../../../daemons/scheduler/mosaic/dispatch-gate.js';
import { dispatchMetrics } from '../../../daemons/scheduler/mosaic/dispatch-metrics.js';
import {
  cancelPlan,
  pauseDispatch,
  requeuePlan,
  resumeDispatch,
} from '../../../daemons/scheduler/mosaic/ops.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { sample } from '../scheduler/helpers.js';
import {
  alertsNamed,
  attemptsOf,
  eventsOf,
  insertPlan,
  jobOf,
  mosaicEnv,
  planOf,
  startDispatcher,
  type MosaicEnv,
  type Running,
} from './dispatch-harness.js';

let dir: string;
let env: MosaicEnv | undefined;
let running: Running | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

const GB = 1e9;

describe('mosaic acceptance 15 (gate): free space below minFreeGbOutput', () => {
  it('pauses dispatch, sets the gauge, raises MosaicDispatchPaused after 15 min, and all clears when space returns', async () => {
    dir = makeTmpDir();
    const clock = new ManualClock(Date.UTC(2026, 11, 3, 18));
    env = await mosaicEnv(dir, { mode: 'ok', minFreeGbOutput: 50 }, { clock });
    let outputFree = 10 * GB;
    const freeBytes = (p: string): number => (p === env!.cfg.outputDir ? outputFree : 500 * GB);
    const registry = createRegistry({ daemon: 'scheduler', defaultMetrics: false });
    const m = dispatchMetrics(registry);
    const gate = new DispatchGate({
      cfg: env.cfg,
      db: env.ctx.state,
      clock,
      log: silentLogger(),
      m,
      freeBytes,
    });
    expect(gate.check()).toEqual(['disk_output']);
    expect(await sample(registry, 'contimg_mosaic_dispatch_paused{reason="disk_output"}')).toBe(1);
    expect(await sample(registry, 'contimg_mosaic_dispatch_paused{reason="disk_scratch"}')).toBe(0);
    clock.advance(14 * 60_000);
    gate.check();
    expect(alertsNamed(env, 'MosaicDispatchPaused')).toEqual([]);
    clock.advance(61_000);
    gate.check();
    expect(alertsNamed(env, 'MosaicDispatchPaused')).toMatchObject([
      { status: 'firing', severity: 'warning', labels: { reason: 'disk_output' } },
    ]);
    outputFree = 60 * GB;
    expect(gate.check()).toEqual([]);
    expect(await sample(registry, 'contimg_mosaic_dispatch_paused{reason="disk_output"}')).toBe(0);
    expect(alertsNamed(env, 'MosaicDispatchPaused')).toMatchObject([{ status: 'resolved' }]);
    expect(eventsOf(env, 'mosaic.dispatch_paused')).toMatchObject([{ reason: 'disk_output' }]);
    expect(eventsOf(env, 'mosaic.dispatch_resumed')).toMatchObject([{ reason: 'disk_output' }]);
  });

  it('a queued plan is not claimed while the disk is short, and is built once space returns', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'ok', minFreeGbOutput: 50 });
    let outputFree = 10 * GB;
    const id = insertPlan(env);
    running = startDispatcher(env, {
      freeBytes: (p) => (p === env!.cfg.outputDir ? outputFree : 500 * GB),
      gateEveryMs: 100,
    });
    await waitFor(() => eventsOf(env!, 'mosaic.dispatch_paused').length > 0, { what: 'paused' });
    expect(planOf(env, id).state).toBe('queued');
    expect(attemptsOf(env, id)).toEqual([]);
    outputFree = 60 * GB;
    running.d.worker.wake();
    await waitFor(() => planOf(env!, id).state === 'built', {
      what: 'built after the space returned',
      timeoutMs: 30_000,
    });
  });
});

describe('mosaic operator actions', () => {
  it('pause holds dispatch with an operator row and alert after 15 min; resume lifts both', async () => {
    dir = makeTmpDir();
    const clock = new ManualClock(Date.UTC(2026, 11, 3, 18));
    env = await mosaicEnv(dir, { mode: 'ok' }, { clock });
    const registry = createRegistry({ daemon: 'scheduler', defaultMetrics: false });
    const gate = new DispatchGate({
      cfg: env.cfg,
      db: env.ctx.state,
      clock,
      log: silentLogger(),
      m: dispatchMetrics(registry),
      freeBytes: () => 500 * GB,
    });
    const since = pauseDispatch(env.ctx.state, { by: 'alice', note: 'disk swap', now: clock.now() }).since;
    clock.advance(60_000);
    expect(pauseDispatch(env.ctx.state, { by: 'bob', now: clock.now() }).since).toBe(since);
    expect(gate.check()).toEqual(['operator']);
    expect(await sample(registry, 'contimg_mosaic_dispatch_paused{reason="operator"}')).toBe(1);
    clock.advance(15 * 60_000);
    gate.check();
    expect(alertsNamed(env, 'MosaicDispatchPaused')).toMatchObject([
      { status: 'firing', labels: { reason: 'operator' } },
    ]);
    expect(resumeDispatch(env.ctx.state, { by: 'alice', now: clock.now() })).toEqual({ wasPaused: true });
    expect(alertsNamed(env, 'MosaicDispatchPaused')).toMatchObject([{ status: 'resolved' }]);
    expect(gate.check()).toEqual([]);
    expect(resumeDispatch(env.ctx.state, { by: 'alice', now: clock.now() })).toEqual({ wasPaused: false });
  });

  it('requeue of a failed plan: queued with a fresh job, its MosaicBuildFailed resolved, then built', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'validation:frame_mismatch' });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', { what: 'failed', timeoutMs: 30_000 });
    await running.stop();
    running = undefined;
    expect(alertsNamed(env, 'MosaicBuildFailed')).toMatchObject([{ status: 'firing' }]);
    env.cfg = { ...env.cfg, builder: { ...env.cfg.builder, env: { FAKE_BUILDER_MODE: 'ok' } } };
    const r = requeuePlan(env.ctx.state, env.cfg, 'quicklook_d+55.6_20261203T1200_1300', {
      by: 'op',
      now: Date.now(),
    });
    expect(planOf(env, id)).toMatchObject({ state: 'queued', attempts: 0, error_code: null });
    expect(jobOf(env, id)).toMatchObject({ state: 'queued' });
    expect(alertsNamed(env, 'MosaicBuildFailed')).toMatchObject([{ status: 'resolved' }]);
    expect(r.jobId).toBeGreaterThan(0);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'built', {
      what: 'built after requeue',
      timeoutMs: 30_000,
    });
    expect(attemptsOf(env, id).map((a) => a.outcome)).toEqual(['validation', 'ok']);
    expect(() => requeuePlan(env!.ctx.state, env!.cfg, id, { by: 'op', now: Date.now() })).toThrow(
      /is built/,
    );
  });

  it('cancel of a running build: job cancelled, builder stopped, plan cancelled, attempt closed', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'hang', timeoutS: 120, killGraceS: 1, leaseS: 3 });
    const id = insertPlan(env);
    running = startDispatcher(env);
    const a = await waitFor(() => attemptsOf(env!, id).find((x) => x.pid !== null), { what: 'building' });
    expect(cancelPlan(env.ctx.state, id, { by: 'op', now: Date.now() })).toMatchObject({ was: 'building' });
    expect(planOf(env, id).state).toBe('cancelled');
    await waitFor(() => attemptsOf(env!, id)[0]!.ended_at !== null, {
      what: 'attempt closed',
      timeoutMs: 20_000,
    });
    expect(attemptsOf(env, id)[0]).toMatchObject({ outcome: 'aborted' });
    const { isAlive } = await import('../../../lib/exec/procs.js');
    expect(isAlive(a.pid!)).toBe(false);
    expect(planOf(env, id).state).toBe('cancelled');
    expect(() => cancelPlan(env!.ctx.state, id, { by: 'op', now: Date.now() })).toThrow(/nothing to cancel/);
  });
});
