import { describe, expect, it } from 'vitest';
import { parseExitCode, slurmPhase, stateWord } from '../../../lib/slurm/index.js';

describe('Slurm job states', () => {
  it.each([
    ['PENDING', 'pending'],
    ['REQUEUED', 'pending'],
    ['CONFIGURING', 'running'],
    ['RUNNING', 'running'],
    ['COMPLETING', 'running'],
    ['SUSPENDED', 'running'],
  ])('%s is still Slurm’s (%s)', (raw, phase) => {
    expect(slurmPhase(raw).phase).toBe(phase);
  });

  it.each([
    ['COMPLETED', 'exited'],
    ['FAILED', 'exited'],
    ['TIMEOUT', 'timeout'],
    ['OUT_OF_MEMORY', 'oom'],
    ['CANCELLED', 'cancelled'],
    ['CANCELLED by 0', 'cancelled'],
    ['NODE_FAIL', 'node_fail'],
    ['BOOT_FAIL', 'node_fail'],
    ['PREEMPTED', 'preempted'],
    ['DEADLINE', 'other'],
    ['SOMETHING_NEW', 'other'],
  ])('%s ended: %s', (raw, end) => {
    const p = slurmPhase(raw);
    expect(p.phase).toBe('ended');
    expect(p.phase === 'ended' && p.end).toBe(end);
  });

  it('reads the state word Slurm decorates', () => {
    expect(stateWord(' RUNNING+ ')).toBe('RUNNING');
    expect(stateWord('cancelled by 1000')).toBe('CANCELLED');
  });

  it('parses ExitCode code:signal', () => {
    expect(parseExitCode('3:0')).toEqual({ exitCode: 3, signal: 0 });
    expect(parseExitCode('0:15')).toEqual({ exitCode: 0, signal: 15 });
    expect(parseExitCode('')).toEqual({ exitCode: null, signal: null });
    expect(parseExitCode('x:y')).toEqual({ exitCode: null, signal: null });
  });
});
