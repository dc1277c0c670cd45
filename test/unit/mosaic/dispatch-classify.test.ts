// The builder's exit against the contract's table: each row of docs/mosaic-dispatch.md "Outcomes".
import { describe, expect, it } from 'vitest';
import { UNSEEN } from '../../../lib/exec/supervised.js';
import type { MosaicResult } from '../../../lib/mosaic/manifest.js';
import { classify, type BuildEnd } from '../../../daemons/scheduler/mosaic/dispatch-outcome.js';
import { stripLabel } from '../../../lib/mosaic/plan/describe.js';

const OK_RESULT: MosaicResult = {
  ok: true,
  error_code: null,
  error: null,
  outputs: { fits: '/m/a.fits', weights: '/m/a.weights.fits', bytes: 10 },
  n_used: 2,
  skipped: [],
  grid: { frame: 'ICRS', projection: 'SIN', center: { ra: 1, dec: 2 }, pixel_arcsec: 6, nx: 2, ny: 2 },
  stats: null,
  builder_version: 't',
};

const end = (res: Partial<BuildEnd['res']>, more: Partial<BuildEnd> = {}): BuildEnd => ({
  res: { ...UNSEEN, ...res },
  exitKnown: true,
  result: null,
  resultError: 'no result file (ENOENT)',
  outputsExist: false,
  ...more,
});
const none = { timeouts: 0, buildErrors: 0 };

describe('mosaic build classification', () => {
  it('exit 0 is ok only with a valid ok result and both files', () => {
    expect(classify(end({ exitCode: 0 }, { result: OK_RESULT, outputsExist: true }), none)).toMatchObject({
      outcome: 'ok',
    });
    expect(classify(end({ exitCode: 0 }), none)).toMatchObject({
      outcome: 'bad_result',
      retryable: true,
      error: 'no result file (ENOENT)',
    });
    expect(classify(end({ exitCode: 0 }, { result: OK_RESULT, outputsExist: false }), none)).toMatchObject({
      outcome: 'bad_result',
    });
    expect(
      classify(end({ exitCode: 0 }, { result: { ...OK_RESULT, ok: false }, outputsExist: true }), none),
    ).toMatchObject({ outcome: 'bad_result' });
  });

  it('exit 5: validation codes are final, input_changed re-plans', () => {
    const r = (code: MosaicResult['error_code']): MosaicResult => ({
      ...OK_RESULT,
      ok: false,
      error_code: code,
      error: 'x',
    });
    for (const code of [
      'not_continuum',
      'frame_mismatch',
      'unsupported_projection',
      'no_usable_inputs',
      'grid_too_large',
    ] as const)
      expect(classify(end({ exitCode: 5 }, { result: r(code) }), none)).toEqual({
        outcome: 'validation',
        errorCode: code,
        error: 'x',
        retryable: false,
      });
    expect(classify(end({ exitCode: 5 }, { result: r('input_changed') }), none)).toMatchObject({
      retryable: false,
      replan: true,
    });
  });

  it('exit 8 is retried once, a timeout once, OOM never', () => {
    expect(classify(end({ exitCode: 8 }), none)).toMatchObject({ outcome: 'build_error', retryable: true });
    expect(classify(end({ exitCode: 8 }), { timeouts: 0, buildErrors: 1 })).toMatchObject({
      retryable: false,
    });
    expect(classify(end({ exitCode: 124 }), none)).toMatchObject({ outcome: 'timeout', retryable: true });
    expect(classify(end({ timedOut: true, signal: 'SIGKILL' }), none)).toMatchObject({
      outcome: 'timeout',
      retryable: true,
    });
    expect(classify(end({ timedOut: true }), { timeouts: 1, buildErrors: 0 })).toMatchObject({
      outcome: 'timeout',
      retryable: false,
    });
    expect(classify(end({ exitCode: 137 }), none)).toMatchObject({ outcome: 'oom', retryable: false });
    expect(classify(end({ exitCode: null, signal: 'SIGKILL' }), none)).toMatchObject({
      outcome: 'oom',
      retryable: false,
    });
  });

  it('io, spawn errors and other exits are retried; stderr names the failure', () => {
    expect(classify(end({ exitCode: 2, stderrTail: '\n  disk full\nmore' }), none)).toEqual({
      outcome: 'io',
      errorCode: 'io',
      error: 'disk full',
      retryable: true,
    });
    expect(classify(end({ spawnError: 'ENOENT' }), none)).toMatchObject({
      outcome: 'spawn_error',
      retryable: true,
    });
    expect(classify(end({ exitCode: 3, stderrTail: 'boom' }), none)).toMatchObject({
      outcome: 'failed',
      retryable: true,
      error: 'builder failed (exit 3): boom',
    });
    expect(classify(end({ exitCode: null, signal: 'SIGSEGV' }), none)).toMatchObject({
      outcome: 'failed',
      error: 'builder failed (signal SIGSEGV)',
    });
  });

  it('a forced verdict (recovery, a cancel) wins', () => {
    const forced = { outcome: 'crashed' as const, errorCode: 'crashed', error: 'x', retryable: true };
    expect(classify(end({ exitCode: 0 }, { forced }), none)).toBe(forced);
  });

  it('strip labels are signed with one decimal, two digits as in plan names (every mosaic alert uses them)', () => {
    expect(stripLabel(55.57)).toBe('+55.6');
    expect(stripLabel(-3.04)).toBe('-03.0');
    expect(stripLabel(0)).toBe('+00.0');
  });
});
