// The built daemon on the Slurm executor against a real single-node Slurm, where process death and a
// controller outage matter: SIGKILL while its job runs (the job is adopted, never submitted twice), SIGKILL
// between the dispatch commit and sbatch (no job existed: one more attempt), and slurmctld stopped for 30 s
// while groups are dispatched (an alert, retries with backoff, no lost and no duplicated group).
import { afterEach, describe, expect, it } from 'vitest';
import { clusterForFile } from '../../helpers/slurm.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { events, groups, query, T0, writeGroupFiles, type Env } from './harness.js';
import { spawnDaemon, type DaemonProc } from './proc.js';
import { jobsOfGroup, slurmArgv, slurmAttempts, slurmEnv } from './slurm-harness.js';

const slurm = clusterForFile();
let env: Env | undefined;
const procs: DaemonProc[] = [];

afterEach(async () => {
  for (const p of procs.splice(0))
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  if (env) removeTmpDir(env.dir);
  env = undefined;
});

async function start(extra: Record<string, string> = {}): Promise<DaemonProc> {
  const p = await spawnDaemon(env!, extra);
  procs.push(p);
  return p;
}

async function kill(p: DaemonProc): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

function alertStatus(name: string): string | undefined {
  return query<{ status: string }>(env!, 'SELECT status FROM alerts WHERE alertname = ?', name)[0]?.status;
}

describe('streaming converter on Slurm: crashes and outages', () => {
  it('SIGKILL while its Slurm job runs: the restart adopts the job; exactly one job; converted', async () => {
    const group = '2025-06-01T12:00:00';
    env = await slurmEnv(slurm(), { converter: { argv: slurmArgv('sleep:4000'), timeoutS: 600 } });
    const a = await start();
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => slurmAttempts(env!)[0]?.slurm_state === 'RUNNING', {
      what: 'RUNNING',
      timeoutMs: 60_000,
    });
    await kill(a);
    await start();
    await waitFor(() => groups(env!)[0]?.state === 'converted', { what: 'converted', timeoutMs: 60_000 });
    const attempts = slurmAttempts(env);
    expect(attempts).toMatchObject([{ attempt: 1, outcome: 'ok', slurm_state: 'COMPLETED' }]);
    expect((await jobsOfGroup(slurm(), group)).map((j) => j.id)).toEqual([attempts[0].slurm_job_id]);
    const adopted = events(env, 'converter.attempt_adopted').map(
      (e) => JSON.parse(e.payload) as Record<string, unknown>,
    );
    expect(adopted).toMatchObject([
      { groupId: group, executor: 'slurm', slurmJobId: attempts[0].slurm_job_id },
    ]);
  });

  it('SIGKILL between the dispatch commit and sbatch: no job existed, so one more attempt; one job in all', async () => {
    const group = '2025-06-01T13:00:00';
    env = await slurmEnv(slurm());
    const a = await start({ CONTIMG_CONVERTER_FAULT: 'after-dispatch-commit' });
    writeGroupFiles(env.incoming, T0 + 3_600_000);
    await a.exited;
    expect(slurmAttempts(env)).toMatchObject([{ outcome: null, slurm_job_id: null }]);
    await start();
    await waitFor(() => groups(env!)[0]?.state === 'converted', { what: 'converted', timeoutMs: 60_000 });
    const attempts = slurmAttempts(env);
    expect(attempts.map((x) => x.outcome)).toEqual(['crashed', 'ok']);
    expect(attempts[0].error).toBe('daemon stopped before the Slurm job was submitted');
    expect((await jobsOfGroup(slurm(), group)).map((j) => j.id)).toEqual([attempts[1].slurm_job_id]);
  });

  it('slurmctld stopped for 30 s while groups are dispatched: alert, retries, then each group converts once', async () => {
    const ids = ['2025-06-01T14:00:00', '2025-06-01T14:05:09'];
    env = await slurmEnv(slurm(), { maxConcurrent: 2 });
    await start();
    await slurm().stopController();
    const stoppedAt = Date.now();
    try {
      writeGroupFiles(env.incoming, T0 + 7_200_000);
      writeGroupFiles(env.incoming, T0 + 7_509_000);
      await waitFor(() => alertStatus('ConverterSlurmUnreachable') === 'firing', {
        what: 'ConverterSlurmUnreachable firing',
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      expect(groups(env).map((g) => g.state)).toEqual(['converting', 'converting']);
      expect(slurmAttempts(env).map((x) => x.slurm_job_id)).toEqual([null, null]);
      await waitFor(() => Date.now() - stoppedAt >= 30_000, {
        what: '30 s',
        timeoutMs: 40_000,
        intervalMs: 500,
      });
    } finally {
      await slurm().startController();
    }
    await waitFor(() => groups(env!).every((g) => g.state === 'converted'), {
      what: 'both converted',
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    expect(groups(env).map((g) => g.group_id)).toEqual(ids);
    const attempts = slurmAttempts(env);
    expect(attempts.map((x) => x.outcome)).toEqual(['ok', 'ok']);
    for (const [i, id] of ids.entries())
      expect((await jobsOfGroup(slurm(), id)).map((j) => j.id)).toEqual([attempts[i].slurm_job_id]);
    expect(alertStatus('ConverterSlurmUnreachable')).toBe('resolved');
  }, 240_000);
});
