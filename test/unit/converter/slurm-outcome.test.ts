import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { slurmPhase } from '../../../lib/slurm/index.js';
import { RETRY_NOW } from '../../../daemons/streaming-converter/jobs.js';
import { classifyExit, isRetriable } from '../../../daemons/streaming-converter/rules.js';
import { signalName, slurmEndFacts } from '../../../daemons/streaming-converter/slurm-outcome.js';
import { slurmJobName } from '../../../daemons/streaming-converter/slurm-executor.js';

/** The outcome the converter records for a Slurm end: the verdict, or the local rule on the exit facts. */
function outcomeOf(state: string, exitCode: number | null, signal: number | null = 0, byUs = false) {
  const p = slurmPhase(state);
  if (p.phase !== 'ended') throw new Error(`${state} has not ended`);
  const f = slurmEndFacts({ ...p, exitCode, signal }, byUs);
  const outcome =
    f.verdict?.outcome ??
    classifyExit({
      ...f.res,
      spawnError: false,
      outputExists: true,
      expectResult: true,
      result: { ok: true },
    });
  return { outcome, now: f.retryPolicy === RETRY_NOW, error: f.verdict?.error };
}

describe('Slurm ends as converter outcomes', () => {
  it.each([
    ['COMPLETED', 0, 'ok', false],
    ['FAILED', 2, 'io', false],
    ['FAILED', 5, 'validation', false],
    ['FAILED', 8, 'conversion', false],
    ['FAILED', 3, 'failed', false],
    ['TIMEOUT', 0, 'timeout', false],
    ['OUT_OF_MEMORY', 0, 'oom', false],
    ['NODE_FAIL', 0, 'crashed', true],
    ['BOOT_FAIL', 0, 'crashed', true],
    ['PREEMPTED', 0, 'crashed', true],
    ['CANCELLED', 0, 'failed', false],
    ['DEADLINE', 0, 'failed', false],
  ] as const)('%s exit %d → %s (retry at once: %s)', (state, exit, outcome, now) => {
    expect(outcomeOf(state, exit)).toMatchObject({ outcome, now });
  });

  it('retry decisions follow the local rules', () => {
    expect(isRetriable(outcomeOf('TIMEOUT', 0).outcome, 1)).toBe(true);
    expect(isRetriable(outcomeOf('OUT_OF_MEMORY', 0).outcome, 1)).toBe(true);
    expect(isRetriable(outcomeOf('NODE_FAIL', 0).outcome, 1)).toBe(true);
    expect(isRetriable(outcomeOf('FAILED', 5).outcome, 1)).toBe(false);
  });

  it('a job the daemon cancelled is aborted, not a failure', () => {
    expect(outcomeOf('CANCELLED', 0, 0, true)).toMatchObject({ outcome: 'aborted' });
  });

  it('FAILED with exit 0 lost its signal: crashed, never ok; a recorded signal is kept', () => {
    expect(outcomeOf('FAILED', 0)).toMatchObject({
      outcome: 'crashed',
      error: expect.stringMatching(/signal/),
    });
    expect(outcomeOf('FAILED', 0, 9).outcome).toBe('oom');
    expect(outcomeOf('FAILED', 0, 6).outcome).toBe('crashed');
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(0)).toBeNull();
  });

  it('names the job after the group, attempt and dispatch time, without whitespace', () => {
    expect(slurmJobName('2025-06-01T12:00:00', 2, 1748779200000)).toBe(
      'contimg_2025-06-01T12:00:00_a2_1748779200000',
    );
    expect(slurmJobName('a b', 1, 1)).not.toMatch(/\s/);
  });
});

describe('streamingConverter.executor', () => {
  const parse = (executor: unknown) =>
    parseConfig(
      { dataDir: '/d', databases: { state: '/d/s', pipeline: '/d/p' }, streamingConverter: { executor } },
      '/etc',
    );

  it('defaults to local', () => {
    expect(
      parseConfig({ dataDir: '/d', databases: { state: '/d/s', pipeline: '/d/p' } }, '/etc')
        .streamingConverter.executor,
    ).toEqual({ kind: 'local' });
  });

  it('slurm: defaults, a relative slurmConf resolved against the config folder', () => {
    expect(
      parse({ kind: 'slurm', partition: 'conv', slurmConf: 'slurm.conf', timeLimit: '1:00:00' })
        .streamingConverter.executor,
    ).toEqual({
      kind: 'slurm',
      partition: 'conv',
      timeLimit: '1:00:00',
      sbatchArgs: [],
      pollS: 10,
      slurmConf: '/etc/slurm.conf',
    });
  });

  it.each([
    [{ kind: 'slurm' }, /partition/],
    [{ kind: 'slurm', partition: 'a b' }, /partition: expected a Slurm name/],
    [
      { kind: 'slurm', partition: 'p', sbatchArgs: ['--job-name=x'] },
      /sbatchArgs\.0: --job-name is not allowed/,
    ],
    [{ kind: 'slurm', partition: 'p', sbatchArgs: ['-p', 'x'] }, /sbatchArgs\.0: expected --option/],
    [{ kind: 'slurm', partition: 'p', timeLimit: 'soon' }, /timeLimit: expected a Slurm time limit/],
    [{ kind: 'slurm', partition: 'p', memGb: 0 }, /memGb/],
    [{ kind: 'slurm', partition: 'p', nodes: 2 }, /nodes/],
    [{ kind: 'kubernetes' }, /kind/],
  ])('%j is a config error', (executor, message) => {
    expect(() => parse(executor)).toThrow(message);
  });
});
