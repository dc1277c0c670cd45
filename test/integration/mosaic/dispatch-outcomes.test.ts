// mosaic acceptance tests 7 and 9 (dispatch part) and the happy path: the mosaic dispatcher runs a fake builder as a real
// child under the supervisor and classifies how it ended.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../../lib/exec/procs.js';
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

const partials = (root: string): string[] =>
  fs.existsSync(root)
    ? (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.partial'))
    : [];

describe('mosaic dispatch: a build that succeeds', () => {
  it('exit 0 with a valid result and both files → built, a mosaics row equal to the result, mosaic.built', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'ok' });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'built', { what: 'plan built', timeoutMs: 30_000 });
    const m = env.sql.prepare('SELECT * FROM mosaics WHERE plan_id = ?').get(id) as Record<string, unknown>;
    const manifestPath = (attemptsOf(env, id)[0] as unknown as { manifest_path: string }).manifest_path;
    const result = JSON.parse(
      fs.readFileSync(manifestPath.replace('.manifest.json', '.result.json'), 'utf8'),
    );
    expect(m).toMatchObject({
      path: result.outputs.fits,
      weights_path: result.outputs.weights,
      nx: 400,
      ny: 200,
      n_used: 2,
      effective_noise_jy: result.stats.effective_noise_jy,
      peak_rss_bytes: result.stats.peak_rss_bytes,
      builder_version: 'fake-1',
      state: 'built',
    });
    expect(manifestPath).toMatch(
      /mosaics\/quicklook\/2026\/12\/03\/quicklook_d\+55\.6_20261203T1200_1300\.manifest\.json$/,
    );
    const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    expect(manifest.inputs[0].pb.smear_ra_deg).toBeCloseTo(1.291, 3);
    expect(attemptsOf(env, id)).toMatchObject([{ outcome: 'ok', exit_code: 0 }]);
    expect(jobOf(env, id).state).toBe('done');
    expect(eventsOf(env, 'mosaic.built')).toHaveLength(1);
    expect(await sample(running.registry, 'contimg_mosaic_builds_total{tier="quicklook",outcome="ok"}')).toBe(
      1,
    );
    expect(await sample(running.registry, 'contimg_mosaic_build_peak_rss_bytes{tier="quicklook"}')).toBe(
      123456789,
    );
  });

  it('exit 0 without a result is not a success: bad_result, retried', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'badresult', maxAttempts: 2 });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', { what: 'plan failed', timeoutMs: 30_000 });
    expect(attemptsOf(env, id).map((a) => a.outcome)).toEqual(['bad_result', 'bad_result']);
    expect(env.sql.prepare('SELECT count(*) AS n FROM mosaics').get()).toEqual({ n: 0 });
  });
});

describe('mosaic acceptance 7 (dispatch): a builder exiting 5 not_continuum', () => {
  it('is not retried: failed after one attempt, MosaicBuildFailed with the code', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'validation:not_continuum', maxAttempts: 3 });
    const id = insertPlan(env, { tier: 'science', name: 'science_d+55.6_20261203T1200_1300' });
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', { what: 'plan failed', timeoutMs: 30_000 });
    expect(planOf(env, id)).toMatchObject({ attempts: 1, error_code: 'not_continuum' });
    expect(attemptsOf(env, id)).toMatchObject([
      { outcome: 'validation', exit_code: 5, error_code: 'not_continuum' },
    ]);
    expect(jobOf(env, id).state).toBe('dead');
    const [a] = alertsNamed(env, 'MosaicBuildFailed');
    expect(a).toMatchObject({
      severity: 'critical',
      status: 'firing',
      labels: { tier: 'science', strip: '+55.6', plan: 'science_d+55.6_20261203T1200_1300' },
    });
    expect(a!.annotations.description).toContain('error_code=not_continuum');
    expect(a!.annotations.description).toContain('attempts=1');
    expect(a!.annotations.description).toContain('stderr: fake builder: not_continuum');
    expect(a!.annotations.description).toMatch(
      /manifest: \/.*science_d\+55\.6_20261203T1200_1300\.manifest\.json/,
    );
  });

  it('input_changed supersedes the plan for the planner to plan again, with no alert', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'validation:input_changed' });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'superseded', {
      what: 'plan superseded',
      timeoutMs: 30_000,
    });
    expect(attemptsOf(env, id)).toHaveLength(1);
    expect(eventsOf(env, 'mosaic.superseded')).toMatchObject([{ reason: 'input_changed' }]);
    expect(alertsNamed(env, 'MosaicBuildFailed')).toEqual([]);
  });

  it('exit 8 is retried once; a later built plan of the strip resolves the alert', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'exit:8', maxAttempts: 3 });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', { what: 'plan failed', timeoutMs: 30_000 });
    expect(attemptsOf(env, id).map((a) => a.outcome)).toEqual(['build_error', 'build_error']);
    expect(alertsNamed(env, 'MosaicBuildFailed')).toMatchObject([{ severity: 'warning', status: 'firing' }]);
    await running.stop();
    running = undefined;
    env.cfg = { ...env.cfg, builder: { ...env.cfg.builder, env: { FAKE_BUILDER_MODE: 'ok' } } };
    const later = insertPlan(env, { name: 'quicklook_d+55.6_20261203T1300_1400' });
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, later).state === 'built', {
      what: 'later plan built',
      timeoutMs: 30_000,
    });
    expect(alertsNamed(env, 'MosaicBuildFailed')).toMatchObject([{ status: 'resolved' }]);
  });
});

describe('mosaic dispatch: a plan that cannot make a manifest', () => {
  it('fails at once with bad_manifest, naming the field, without running a builder', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'ok' });
    const id = insertPlan(env, { grid: null });
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', { what: 'plan failed', timeoutMs: 30_000 });
    expect(planOf(env, id)).toMatchObject({ attempts: 1, error_code: 'bad_manifest' });
    const [a] = attemptsOf(env, id);
    expect(a).toMatchObject({ outcome: 'validation', pid: null });
    expect(a!.error_code).toBe('bad_manifest');
    expect(
      (env.sql.prepare('SELECT error FROM mosaic_attempts WHERE plan_id = ?').get(id) as { error: string })
        .error,
    ).toMatch(/manifest: grid/);
  });
});

describe('mosaic acceptance 9: timeout', () => {
  it('SIGTERM to the group, SIGKILL after the grace; timeout, no .partial, retry_wait with backoff, failed after the second timeout', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, {
      mode: 'hang',
      // Long enough for node to start the builder (and its SIGTERM handler) on a loaded machine.
      timeoutS: 4,
      killGraceS: 1,
      maxAttempts: 3,
      retryBaseS: 2,
      retryMaxS: 2,
    });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'retry_wait', { what: 'retry_wait', timeoutMs: 30_000 });
    const [first] = attemptsOf(env, id);
    expect(first).toMatchObject({ outcome: 'timeout', error_code: 'timeout' });
    // The builder ignored SIGTERM (it logged it) and is gone: SIGKILL after the grace.
    const attemptDir = path.join(env.cfg.scratchDir, 'quicklook_d+55.6_20261203T1200_1300', 'attempt-1');
    const events = fs.readFileSync(path.join(attemptDir, 'events.log'), 'utf8').trim().split('\n');
    expect(events[0]).toMatch(/^start \d+$/);
    expect(events).toContain('term');
    expect(events).not.toContain('end');
    const pid = Number(events[0]!.split(' ')[1]);
    expect(isAlive(pid)).toBe(false);
    expect(partials(env.cfg.outputDir)).toEqual([]);
    // Backoff: the job's next run is retryBaseS (±10 %) after the settle.
    const job = jobOf(env, id);
    expect(job.run_at - job.updated_at).toBeGreaterThanOrEqual(1800);
    expect(job.run_at - job.updated_at).toBeLessThanOrEqual(2200);
    await waitFor(() => planOf(env!, id).state === 'failed', {
      what: 'failed after the second timeout',
      timeoutMs: 40_000,
    });
    expect(attemptsOf(env, id).map((a) => a.outcome)).toEqual(['timeout', 'timeout']);
    expect(partials(env.cfg.outputDir)).toEqual([]);
    expect(alertsNamed(env, 'MosaicBuildFailed')).toMatchObject([
      { status: 'firing', labels: { tier: 'quicklook' } },
    ]);
    expect(
      await sample(running.registry, 'contimg_mosaic_builds_total{tier="quicklook",outcome="timeout"}'),
    ).toBe(2);
  });

  it('exit 137 (OOM) fails at once, and the alert says split', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'exit:137' });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', { what: 'plan failed', timeoutMs: 30_000 });
    expect(attemptsOf(env, id)).toMatchObject([{ outcome: 'oom' }]);
    expect(alertsNamed(env, 'MosaicBuildFailed')[0]!.annotations.description).toContain('Split the plan');
  });
});
