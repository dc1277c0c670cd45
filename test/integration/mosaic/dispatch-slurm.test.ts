// mosaic acceptance 11: mosaic builds on the real single-node Slurm (test/helpers/slurm.ts): COMPLETED → built; a
// builder exiting 3 → FAILED, retried as a new job, then failed; an outside scancel → cancelled; a job whose id
// never reached the attempt row when the dispatcher stopped is adopted by its deterministic name, never
// submitted twice.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterForFile } from '../../helpers/slurm.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import {
  alertsNamed,
  eventsOf,
  insertPlan,
  mosaicEnv,
  planOf,
  startDispatcher,
  type BuilderOpts,
  type MosaicEnv,
  type Running,
} from './dispatch-harness.js';

const slurm = clusterForFile();
let dir: string;
let env: MosaicEnv | undefined;
let running: Running | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
  for (const j of await slurm().jobs())
    if (!/COMPLETED|FAILED|CANCELLED|TIMEOUT/.test(j.state))
      execFileSync('scancel', [j.id], { env: slurm().env });
  env?.close();
  env = undefined;
  removeTmpDir(dir);
}, 60_000);

async function slurmEnv(o: BuilderOpts): Promise<MosaicEnv> {
  dir = makeTmpDir();
  const c = slurm();
  return mosaicEnv(dir, {
    ...o,
    executor: { kind: 'slurm', partition: c.partition, slurmConf: c.conf, pollS: 0.5 },
  });
}

interface SlurmAttempt {
  attempt: number;
  executor: string;
  outcome: string | null;
  slurm_job_name: string | null;
  slurm_job_id: string | null;
  slurm_state: string | null;
  exit_code: number | null;
}
const slurmAttempts = (e: MosaicEnv, id: number): SlurmAttempt[] =>
  e.sql
    .prepare(
      'SELECT attempt, executor, outcome, slurm_job_name, slurm_job_id, slurm_state, exit_code FROM mosaic_attempts WHERE plan_id = ? ORDER BY attempt',
    )
    .all(id) as SlurmAttempt[];

const NAME = 'quicklook_d+55.6_20261203T1200_1300';
const jobsNamed = async (name: string) => (await slurm().jobs()).filter((j) => j.name === name);

describe('mosaic acceptance 11: mosaic builds on Slurm', () => {
  it('COMPLETED → built, one job named contimg-mosaic-<plan>-<attempt>', async () => {
    env = await slurmEnv({ mode: 'ok' });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'built', { what: 'built on Slurm', timeoutMs: 60_000 });
    const [a] = slurmAttempts(env, id);
    expect(a).toMatchObject({
      executor: 'slurm',
      outcome: 'ok',
      slurm_job_name: `contimg-mosaic-${NAME}-1`,
      exit_code: 0,
    });
    expect(a!.slurm_job_id).toMatch(/^\d+$/);
    expect(await jobsNamed(`contimg-mosaic-${NAME}-1`)).toMatchObject([
      { id: a!.slurm_job_id, state: 'COMPLETED' },
    ]);
  }, 90_000);

  it('exit 3 → FAILED: retried as a new job, then failed with MosaicBuildFailed', async () => {
    env = await slurmEnv({ mode: 'exit:3', maxAttempts: 2 });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', { what: 'failed on Slurm', timeoutMs: 60_000 });
    const attempts = slurmAttempts(env, id);
    expect(attempts).toMatchObject([
      { outcome: 'failed', exit_code: 3, slurm_state: 'FAILED' },
      { outcome: 'failed', exit_code: 3, slurm_state: 'FAILED' },
    ]);
    expect(new Set(attempts.map((a) => a.slurm_job_id)).size).toBe(2);
    expect(alertsNamed(env, 'MosaicBuildFailed')[0]!.annotations.description).toContain(
      'fake builder failing with 3',
    );
  }, 90_000);

  it('scancel from outside → the attempt and the plan are cancelled, no retry', async () => {
    env = await slurmEnv({ mode: 'slow:60000', timeoutS: 120 });
    const id = insertPlan(env);
    running = startDispatcher(env);
    const a = await waitFor(() => slurmAttempts(env!, id).find((x) => x.slurm_state === 'RUNNING'), {
      what: 'job running',
      timeoutMs: 60_000,
    });
    execFileSync('scancel', [a.slurm_job_id!], { env: slurm().env });
    await waitFor(() => planOf(env!, id).state === 'cancelled', { what: 'cancelled', timeoutMs: 60_000 });
    expect(slurmAttempts(env, id)).toMatchObject([{ outcome: 'cancelled', slurm_state: 'CANCELLED' }]);
    expect(eventsOf(env, 'mosaic.cancelled')).toMatchObject([{ by: 'slurm' }]);
  }, 90_000);

  it('a job whose id never reached the row is adopted by its name after the dispatcher stopped; one job in all', async () => {
    // The first test left an ended job of the same name (as a recreated database would): the newest is ours.
    const before = (await jobsNamed(`contimg-mosaic-${NAME}-1`)).length;
    expect(before).toBeGreaterThan(0);
    env = await slurmEnv({ mode: 'slow:4000', leaseS: 3 });
    const id = insertPlan(env);
    running = startDispatcher(env);
    await waitFor(() => slurmAttempts(env!, id)[0]?.slurm_job_id, { what: 'submitted', timeoutMs: 60_000 });
    await running.stop();
    running = undefined;
    // As if the dispatcher had died between sbatch and recording the id.
    env.sql.prepare('UPDATE mosaic_attempts SET slurm_job_id = NULL WHERE plan_id = ?').run(id);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'built', { what: 'adopted and built', timeoutMs: 60_000 });
    expect(slurmAttempts(env, id)).toHaveLength(1);
    expect(eventsOf(env, 'mosaic.build_adopted')).toMatchObject([
      { slurmJobName: `contimg-mosaic-${NAME}-1` },
    ]);
    expect(await jobsNamed(`contimg-mosaic-${NAME}-1`)).toHaveLength(before + 1);
  }, 90_000);
});

describe('mosaic acceptance 11: a Slurm build past its deadline (slow)', () => {
  it('is scancel’ed by the dispatcher at the tier’s timeoutS: outcome timeout, retried', async () => {
    env = await slurmEnv({ mode: 'slow:60000', timeoutS: 3, maxAttempts: 2, retryBaseS: 1, retryMaxS: 1 });
    const id = insertPlan(env, { name: 'quicklook_d+55.6_20261203T1400_1500' });
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'failed', {
      what: 'failed after two timeouts',
      timeoutMs: 60_000,
    });
    expect(slurmAttempts(env, id)).toMatchObject([
      { outcome: 'timeout', slurm_state: 'CANCELLED' },
      { outcome: 'timeout', slurm_state: 'CANCELLED' },
    ]);
    expect(planOf(env, id).error_code).toBe('timeout');
  }, 90_000);
});
