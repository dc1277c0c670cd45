// lib/slurm against a real single-node Slurm on loopback (test/helpers/slurm.ts): submit, track to the end,
// cancel, find a job again by its name, the controller down and back, and hostile argv reaching the program
// byte-exact through the generated batch script.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlurmUnreachableError } from '../../../lib/errors.js';
import { batchScript, SlurmClient, type JobStatus } from '../../../lib/slurm/index.js';
import { clusterForFile, type SlurmCluster } from '../../helpers/slurm.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { HOSTILE_ARGS } from '../../helpers/hostile.js';

const slurm = clusterForFile();
let cluster: SlurmCluster;
let client: SlurmClient;
let work: string;
const calls: string[] = [];

beforeAll(() => {
  cluster = slurm();
  client = new SlurmClient({ slurmConf: cluster.conf, onCall: (cmd) => calls.push(cmd), timeoutMs: 60_000 });
  work = makeTmpDir();
}, 90_000);

afterAll(() => {
  if (work) removeTmpDir(work);
});

/** A job in its own directory, running `argv` through the generated script. */
async function submit(
  name: string,
  argv: string[],
  extra: string[] = [],
): Promise<{ id: string; dir: string }> {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  const script = path.join(dir, 'job.sh');
  fs.writeFileSync(script, batchScript(argv));
  const id = await client.submit(
    { partition: cluster.partition, cpusPerTask: 1, memGb: 0.1, timeLimit: '5', sbatchArgs: extra },
    { name, dir, script, stdoutFile: 'stdout.log', stderrFile: 'stderr.log' },
    { ...process.env, CONTIMG_TEST_MARK: 'marked' },
  );
  return { id, dir };
}

const ended = (id: string): Promise<JobStatus> =>
  waitFor(
    async () => {
      const s = await client.status(id);
      return s && s.phase.phase === 'ended' && s.exitCode !== null ? s : null;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `job ${id} to end` },
  );

describe('lib/slurm on a real cluster', () => {
  it('hostile arguments reach the program byte-exact; output lands in the job directory', async () => {
    const argv = [
      process.execPath,
      '-e',
      'process.stdout.write(JSON.stringify({argv: process.argv.slice(1), mark: process.env.CONTIMG_TEST_MARK, cwd: process.cwd()}))',
      ...HOSTILE_ARGS,
    ];
    const { id, dir } = await submit('contimg_hostile', argv, ['--comment=it works']);
    const s = await ended(id);
    expect(s).toMatchObject({
      name: 'contimg_hostile',
      phase: { phase: 'ended', state: 'COMPLETED', end: 'exited' },
      exitCode: 0,
    });
    const out = JSON.parse(fs.readFileSync(path.join(dir, 'stdout.log'), 'utf8')) as {
      argv: string[];
      mark: string;
      cwd: string;
    };
    expect(out.argv).toEqual(HOSTILE_ARGS);
    expect(out.mark).toBe('marked');
    expect(fs.realpathSync(out.cwd)).toBe(fs.realpathSync(dir));
  });

  it('a failing program is FAILED with its exit code; stderr in the job directory', async () => {
    const { id, dir } = await submit('contimg_fail', ['/bin/sh', '-c', 'echo broken >&2; exit 3']);
    expect(await ended(id)).toMatchObject({ phase: { state: 'FAILED', end: 'exited' }, exitCode: 3 });
    expect(fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8')).toBe('broken\n');
  });

  it('tracks a job pending/running, cancels it, and finds it again by name', async () => {
    const { id } = await submit('contimg_sleeper', ['/bin/sleep', '300']);
    const running = await waitFor(async () => (await client.status(id))?.phase.phase === 'running', {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'RUNNING',
    });
    expect(running).toBe(true);
    expect((await client.byName('contimg_sleeper')).map((j) => j.id)).toEqual([id]);
    await client.cancel(id);
    const s = await ended(id);
    expect(s.phase).toMatchObject({ state: 'CANCELLED', end: 'cancelled' });
    await client.cancel(id); // idempotent
    expect(await client.byName('contimg_nobody')).toEqual([]);
    expect(calls).toContain('scancel');
  });

  it('controller down: a typed retry decision; back: the job is still there', async () => {
    const { id } = await submit('contimg_survivor', ['/bin/sleep', '1']);
    await cluster.stopController();
    try {
      // A client that gives up sooner than Slurm's own ~20 s: a timeout counts as unreachable too.
      const impatient = new SlurmClient({ slurmConf: cluster.conf, timeoutMs: 3_000 });
      const e = await impatient.queued(id).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SlurmUnreachableError);
      expect((e as SlurmUnreachableError).retryInMs).toBeGreaterThan(0);
      expect(impatient.unreachableStreak).toBe(1);
    } finally {
      await cluster.startController();
    }
    expect((await ended(id)).exitCode).toBe(0);
  }, 120_000);
});
