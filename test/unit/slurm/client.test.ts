import { describe, expect, it } from 'vitest';
import { SlurmRejectedError, SlurmUnreachableError } from '../../../lib/errors.js';
import {
  SlurmClient,
  minutesLimit,
  sbatchArgIssues,
  sbatchArgv,
  type Exec,
  type ExecResult,
} from '../../../lib/slurm/index.js';

const JOB = {
  name: 'contimg_2025-06-01T12:00:00_1.5',
  dir: '/s/g/attempt-1',
  script: '/s/g/attempt-1/job.sh',
  stdoutFile: 'stdout.log',
  stderrFile: 'stderr.log',
};

/** A scripted exec: each call gets the next answer and is recorded. */
function scripted(answers: Partial<ExecResult>[]) {
  const calls: { cmd: string; args: string[]; env: NodeJS.ProcessEnv }[] = [];
  const exec: Exec = (cmd, args, env) => {
    calls.push({ cmd, args, env });
    const a = answers.shift() ?? { code: 0 };
    return Promise.resolve({ code: 0, stdout: '', stderr: '', ...a });
  };
  return { calls, exec };
}

describe('sbatch command line', () => {
  it('carries the job name, files in the attempt dir, resources, extra args and the script last', () => {
    const argv = sbatchArgv(
      {
        partition: 'conv',
        account: 'dsa',
        qos: 'hi',
        cpusPerTask: 4,
        memGb: 1.5,
        timeLimit: '0:30:00',
        sbatchArgs: ['--nice=10', '--constraint=ssd'],
      },
      JOB,
    );
    expect(argv).toEqual([
      '--parsable',
      `--job-name=${JOB.name}`,
      '--chdir=/s/g/attempt-1',
      '--output=stdout.log',
      '--error=stderr.log',
      '--partition=conv',
      '--account=dsa',
      '--qos=hi',
      '--cpus-per-task=4',
      '--mem=1536M',
      '--time=0:30:00',
      '--nice=10',
      '--constraint=ssd',
      JOB.script,
    ]);
    expect(sbatchArgv({ partition: 'conv' }, JOB)).toEqual(argv.slice(0, 6).concat(JOB.script));
  });

  it('refuses short options, reserved options, newlines and names Slurm would rewrite', () => {
    expect(sbatchArgIssues(['--nice=1', '-p', '--job-name=x', '--wrap=id', '--comment=a\nb', 'x'])).toEqual([
      { index: 1, message: expect.stringMatching(/--option/) },
      { index: 2, message: expect.stringMatching(/--job-name is not allowed/) },
      { index: 3, message: expect.stringMatching(/--wrap is not allowed/) },
      { index: 4, message: expect.stringMatching(/no newlines/) },
      { index: 5, message: expect.stringMatching(/--option/) },
    ]);
    expect(() => sbatchArgv({ partition: 'p', sbatchArgs: ['--output=x'] }, JOB)).toThrow(/sbatchArgs\[0\]/);
    expect(() => sbatchArgv({ partition: 'p' }, { ...JOB, name: 'a b' })).toThrow(/whitespace/);
    expect(() => sbatchArgv({ partition: 'p' }, { ...JOB, stdoutFile: 'o%j.log' })).toThrow(/plain/);
  });

  it('rounds a time limit up to whole minutes', () => {
    expect(minutesLimit(1)).toBe('1');
    expect(minutesLimit(900)).toBe('15');
    expect(minutesLimit(901)).toBe('16');
  });
});

describe('SlurmClient', () => {
  it('submits with SLURM_CONF from config and parses "id;cluster"', async () => {
    const s = scripted([{ stdout: '42;dsa\n' }]);
    const c = new SlurmClient({ slurmConf: '/etc/x.conf', exec: s.exec, env: { PATH: '/bin' } });
    expect(await c.submit({ partition: 'p' }, JOB, { PATH: '/bin', MARK: '1' })).toBe('42');
    expect(s.calls[0].cmd).toBe('sbatch');
    expect(s.calls[0].env).toMatchObject({ SLURM_CONF: '/etc/x.conf', MARK: '1' });
  });

  it('turns an unreachable controller into a retry decision that grows, and resets it on success', async () => {
    const down = { code: 1, stderr: 'squeue: error: Unable to contact slurm controller (connect failure)\n' };
    const s = scripted([down, down, { stdout: '7|n|RUNNING\n' }, down]);
    const c = new SlurmClient({
      exec: s.exec,
      retryPolicy: { strategy: 'exponential', baseMs: 100, maxMs: 10_000, jitter: 0 },
    });
    const e1 = await c.queued('7').catch((e: unknown) => e);
    const e2 = await c.queued('7').catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(SlurmUnreachableError);
    expect((e1 as SlurmUnreachableError).retryable).toBe(true);
    expect([(e1 as SlurmUnreachableError).retryInMs, (e2 as SlurmUnreachableError).retryInMs]).toEqual([
      100, 200,
    ]);
    expect((await c.queued('7'))?.phase).toEqual({ phase: 'running', state: 'RUNNING' });
    expect(((await c.queued('7').catch((e: unknown) => e)) as SlurmUnreachableError).retryInMs).toBe(100);
  });

  it('a refused submission is permanent; a job the controller forgot is null; scancel of it is fine', async () => {
    const s = scripted([
      { code: 1, stderr: 'sbatch: error: Batch job submission failed: Invalid partition name specified\n' },
      { code: 1, stderr: 'slurm_load_jobs error: Invalid job id specified\n' },
      { code: 1, stderr: 'scancel: error: Kill job error on job id 9: Invalid job id specified\n' },
      { spawnError: 'spawn sbatch ENOENT', code: null },
    ]);
    const c = new SlurmClient({ exec: s.exec });
    await expect(c.submit({ partition: 'nope' }, JOB, {})).rejects.toBeInstanceOf(SlurmRejectedError);
    expect(await c.queued('9')).toBeNull();
    await expect(c.cancel('9')).resolves.toBeUndefined();
    await expect(c.submit({ partition: 'p' }, JOB, {})).rejects.toThrow(/cannot run sbatch/);
  });

  it('falls back to the completion file when there is no accounting database, once', async () => {
    const s = scripted([
      { code: 1, stderr: 'Slurm accounting storage is disabled\n' },
      { stdout: '5|n|FAILED|3:0\n' },
      { stdout: '6|n|COMPLETED|0:0\n' },
    ]);
    const c = new SlurmClient({ exec: s.exec });
    expect(await c.accounted('5')).toMatchObject({ phase: { phase: 'ended', end: 'exited' }, exitCode: 3 });
    expect(await c.accounted('6')).toMatchObject({ exitCode: 0 });
    expect(s.calls.map((x) => x.args.includes('--completion'))).toEqual([false, true, true]);
  });

  it('status: active from squeue; ended with the exit code from accounting and the controller’s state', async () => {
    const s = scripted([
      { stdout: '8|n|PENDING\n' },
      { stdout: '8|n|TIMEOUT\n' },
      { stdout: '8|n|CANCELLED|0:0\n' },
    ]);
    const c = new SlurmClient({ exec: s.exec });
    expect((await c.status('8'))?.phase.phase).toBe('pending');
    expect(await c.status('8')).toMatchObject({ phase: { end: 'timeout' }, exitCode: 0 });
  });
});
