// The converter on the Slurm executor against a real single-node Slurm on loopback: a group converts as a
// Slurm job (hostile characters in its paths and arguments reach the converter byte-exact), a failing job is
// retried as a new job per attempt until the group fails, and `converter abandon` scancels a running job.
import fs from 'node:fs';
import path from 'node:path';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { HOSTILE_ARGS } from '../../helpers/hostile.js';
import { clusterForFile } from '../../helpers/slurm.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { groups, startInProcess, T0, writeConfigFile, writeGroupFiles, type Env } from './harness.js';
import { jobsOfGroup, slurmArgv, slurmAttempts, slurmEnv } from './slurm-harness.js';

/** One observation per test: the cluster (and its job list) is shared by the file's tests. */
const OBS = [T0, T0 + 3_600_000, T0 + 7_200_000];
const GROUPS = ['2025-06-01T12:00:00', '2025-06-01T13:00:00', '2025-06-01T14:00:00'];
const slurm = clusterForFile();
let env: Env | undefined;
let daemon: RunningDaemon | undefined;

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  // Nothing of this test keeps running on the cluster.
  for (const j of await slurm().jobs())
    if (!/COMPLETED|FAILED|CANCELLED|TIMEOUT/.test(j.state)) await cancel(j.id);
  if (env) removeTmpDir(env.dir);
  env = undefined;
});

async function cancel(id: string): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  execFileSync('scancel', [id], { env: slurm().env });
}

describe('streaming converter on Slurm', () => {
  it('converts a group as one Slurm job; hostile paths and arguments reach the converter byte-exact', async () => {
    const hostileDir = 'scratch it\'s $HOME `id` "q" *\nnext line';
    env = await slurmEnv(slurm(), {
      // Relative: resolved against the config's folder (the test's temp dir).
      scratchDir: hostileDir,
      // Long enough to be seen RUNNING (the queue-wait metric).
      converter: {
        argv: slurmArgv('sleep:1500', HOSTILE_ARGS),
        timeoutS: 600,
        outputName: "{group} it's $HOME `id`.ms",
      },
    });
    const GROUP = GROUPS[0];
    daemon = await startInProcess(env);
    writeGroupFiles(env.incoming, OBS[0]);
    await waitFor(() => groups(env!)[0]?.state === 'converted', { what: 'converted', timeoutMs: 60_000 });
    const [a] = slurmAttempts(env);
    expect(a).toMatchObject({ attempt: 1, executor: 'slurm', outcome: 'ok', slurm_state: 'COMPLETED' });
    expect(a.slurm_job_name).toMatch(new RegExp(`^contimg_${GROUP}_a1_\\d+$`));
    const jobs = await jobsOfGroup(slurm(), GROUP);
    expect(jobs).toEqual([{ id: a.slurm_job_id, name: a.slurm_job_name, state: 'COMPLETED' }]);
    // Every argument, the expanded paths with their quotes, $, backticks and newline included, byte-exact.
    const dir = path.dirname(a.manifest_path);
    expect(dir).toBe(path.join(env.dir, hostileDir, GROUP, 'attempt-1'));
    const out = path.join(env.out, `${GROUP} it's $HOME \`id\`.ms`);
    const argv = JSON.parse(fs.readFileSync(path.join(dir, 'argv.1.json'), 'utf8')) as string[];
    expect(argv).toEqual([
      'sleep:1500',
      '--manifest',
      a.manifest_path,
      '--out',
      out,
      '--result',
      path.join(dir, 'result.json'),
      ...HOSTILE_ARGS,
    ]);
    expect(fs.readFileSync(out, 'utf8')).toBe('converted\n');
    expect(fs.readFileSync(path.join(dir, 'stdout.log'), 'utf8')).toBe(`converted ${GROUP}\n`);
    // The API and the metrics show the executor and the job.
    const api = (await (await fetch(`http://127.0.0.1:${daemon.port}/api/groups`)).json()) as Record<
      string,
      unknown
    >[];
    expect(api[0]).toMatchObject({
      groupId: GROUP,
      executor: 'slurm',
      slurmJobId: a.slurm_job_id,
      slurmState: 'COMPLETED',
    });
    const metrics = await (await fetch(`http://127.0.0.1:${daemon.port}/metrics`)).text();
    expect(metrics).toContain('contimg_converter_executor_info{kind="slurm"} 1');
    expect(metrics).toMatch(/contimg_converter_slurm_commands_total\{command="sbatch",result="ok"\} 1\n/);
    expect(metrics).toMatch(/contimg_converter_slurm_queue_wait_seconds_count 1\n/);
  });

  it('a failing job is retried as a new Slurm job per attempt, then the group fails', async () => {
    env = await slurmEnv(slurm(), { maxAttempts: 2, converter: { argv: slurmArgv('exit2'), timeoutS: 600 } });
    const GROUP = GROUPS[1];
    daemon = await startInProcess(env);
    writeGroupFiles(env.incoming, OBS[1]);
    await waitFor(() => groups(env!)[0]?.state === 'failed', { what: 'failed', timeoutMs: 60_000 });
    const attempts = slurmAttempts(env);
    expect(attempts.map((a) => [a.outcome, a.slurm_state])).toEqual([
      ['io', 'FAILED'],
      ['io', 'FAILED'],
    ]);
    expect(attempts[0].error).toMatch(/io \(exit 2\).*cannot read an input/);
    const jobs = await jobsOfGroup(slurm(), GROUP);
    expect(jobs.map((j) => j.id).sort()).toEqual(attempts.map((a) => a.slurm_job_id).sort());
    expect(new Set(jobs.map((j) => j.id)).size).toBe(2);
  });

  it('`contimg converter abandon` of a converting group scancels its Slurm job', async () => {
    env = await slurmEnv(slurm(), { converter: { argv: slurmArgv('sleep:600000'), timeoutS: 600 } });
    const GROUP = GROUPS[2];
    daemon = await startInProcess(env);
    writeGroupFiles(env.incoming, OBS[2]);
    await waitFor(() => slurmAttempts(env!)[0]?.slurm_state === 'RUNNING', {
      what: 'RUNNING',
      timeoutMs: 60_000,
    });
    const show = await runCli(['converter', 'show', GROUP, '--config', writeConfigFile(env)]);
    expect(show.stdout).toMatch(
      new RegExp(`attempt 1: running \\[slurm  slurm job ${slurmAttempts(env)[0].slurm_job_id} RUNNING\\]`),
    );
    const r = await runCli(['converter', 'abandon', GROUP, '--config', writeConfigFile(env)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`scancel'ed Slurm job ${slurmAttempts(env)[0].slurm_job_id}`);
    await waitFor(async () => (await jobsOfGroup(slurm(), GROUP))[0]?.state === 'CANCELLED', {
      what: 'job cancelled',
      timeoutMs: 30_000,
    });
    await waitFor(() => slurmAttempts(env!)[0]?.outcome !== null, {
      what: 'attempt closed',
      timeoutMs: 30_000,
    });
    expect(groups(env)[0].state).toBe('abandoned');
    expect(slurmAttempts(env)).toMatchObject([{ outcome: 'aborted', slurm_state: 'CANCELLED' }]);
  });
});
