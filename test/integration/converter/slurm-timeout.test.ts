// A Slurm job that runs past its time limit ends TIMEOUT, which is the `timeout` outcome: retried with
// backoff like a local timeout, as a new Slurm job. Slurm enforces limits in whole minutes and checks them
// periodically, so this test takes 60–100 s (its own file, so it runs beside the other Slurm tests).
import { afterEach, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { clusterForFile } from '../../helpers/slurm.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { events, groups, startInProcess, T0, writeGroupFiles, type Env } from './harness.js';
import { jobsOfGroup, slurmArgv, slurmAttempts, slurmEnv } from './slurm-harness.js';

const slurm = clusterForFile();
let env: Env | undefined;
let daemon: RunningDaemon | undefined;

afterEach(async () => {
  await daemon?.stop();
  if (env) removeTmpDir(env.dir);
});

it('a job that times out is retried as a new Slurm job and the group converts', async () => {
  env = await slurmEnv(
    slurm(),
    { maxAttempts: 2, converter: { argv: slurmArgv('hang-first'), timeoutS: 600 } },
    { timeLimit: '1' },
  );
  daemon = await startInProcess(env);
  writeGroupFiles(env.incoming, T0);
  await waitFor(() => groups(env!)[0]?.state === 'converted', {
    what: 'converted after a TIMEOUT',
    timeoutMs: 200_000,
    intervalMs: 500,
  });
  const attempts = slurmAttempts(env);
  expect(attempts.map((a) => [a.outcome, a.slurm_state])).toEqual([
    ['timeout', 'TIMEOUT'],
    ['ok', 'COMPLETED'],
  ]);
  expect(attempts[0].error).toMatch(/Slurm job TIMEOUT: ran past its time limit/);
  const retry = events(env, 'converter.retry_scheduled').map(
    (e) => JSON.parse(e.payload) as { outcome: string },
  );
  expect(retry).toMatchObject([{ outcome: 'timeout' }]);
  expect((await jobsOfGroup(slurm(), '2025-06-01T12:00:00')).map((j) => j.id).sort()).toEqual(
    attempts.map((a) => a.slurm_job_id).sort(),
  );
}, 240_000);
