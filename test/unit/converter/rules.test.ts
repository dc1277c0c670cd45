import { describe, expect, it } from 'vitest';
import {
  canTransition,
  classifyExit,
  GROUP_STATES,
  groupIdFor,
  hasTimedOut,
  isComplete,
  isRetriable,
  isSettled,
  missingSubbands,
  placeFile,
  type ExitFacts,
  type GroupCandidate,
} from '../../../daemons/streaming-converter/rules.js';
import { expandArgv, validateArgvTemplate } from '../../../daemons/streaming-converter/argv.js';
import { retryPolicyOf, RETRY_NOW } from '../../../daemons/streaming-converter/jobs.js';
import { backoffMs } from '../../../lib/backoff.js';

const S = 1000;
const t = (iso: string): number => Date.parse(`${iso}Z`);

describe('placeFile (numeric time, nearest open anchor within tolerance)', () => {
  const tol = 60 * S;
  it.each<[string, number, GroupCandidate[], ReturnType<typeof placeFile>]>([
    ['no groups → new', t('2025-06-01T12:00:00'), [], { kind: 'new' }],
    [
      'within 60 s → join',
      t('2025-06-01T12:00:59'),
      [{ ref: 1, anchorMs: t('2025-06-01T12:00:00'), state: 'collecting' }],
      { kind: 'join', ref: 1 },
    ],
    [
      '61 s apart → new',
      t('2025-06-01T12:01:01'),
      [{ ref: 1, anchorMs: t('2025-06-01T12:00:00'), state: 'collecting' }],
      { kind: 'new' },
    ],
    [
      '309 s cadence never merges',
      t('2025-06-01T12:05:09'),
      [{ ref: 1, anchorMs: t('2025-06-01T12:00:00'), state: 'collecting' }],
      { kind: 'new' },
    ],
    [
      'across midnight and the year',
      t('2026-01-01T00:00:20'),
      [{ ref: 7, anchorMs: t('2025-12-31T23:59:50'), state: 'ready' }],
      { kind: 'join', ref: 7 },
    ],
    [
      'nearest open group wins',
      t('2025-06-01T12:00:40'),
      [
        { ref: 1, anchorMs: t('2025-06-01T12:00:00'), state: 'collecting' },
        { ref: 2, anchorMs: t('2025-06-01T12:01:00'), state: 'collecting' },
      ],
      { kind: 'join', ref: 2 },
    ],
    [
      'only a dispatched group in reach → late',
      t('2025-06-01T12:00:10'),
      [{ ref: 3, anchorMs: t('2025-06-01T12:00:00'), state: 'converting' }],
      { kind: 'late', ref: 3 },
    ],
    [
      'incomplete group → late, no new group',
      t('2025-06-01T12:00:10'),
      [{ ref: 4, anchorMs: t('2025-06-01T12:00:00'), state: 'incomplete' }],
      { kind: 'late', ref: 4 },
    ],
  ])('%s', (_n, ts, groups, want) => {
    expect(placeFile(ts, groups, tol)).toEqual(want);
  });
});

describe('completeness, ids, timeouts, settling', () => {
  it('needs every subband 0..N-1, not a count of rows', () => {
    expect(isComplete([...Array(16).keys()], 16)).toBe(true);
    expect(isComplete([...Array(15).keys(), 14], 16)).toBe(false);
    expect(missingSubbands([0, 1, 3], 4)).toEqual([2]);
  });
  it('group id is sb00 when present, else the earliest member', () => {
    const m = (subband: number, tsName: string) => ({ subband, tsName, tsMs: t(tsName) });
    expect(groupIdFor([m(3, '2025-06-01T12:00:01'), m(0, '2025-06-01T12:00:02')])).toBe(
      '2025-06-01T12:00:02',
    );
    expect(groupIdFor([m(3, '2025-06-01T12:00:05'), m(4, '2025-06-01T12:00:01')])).toBe(
      '2025-06-01T12:00:01',
    );
    expect(groupIdFor([])).toBeNull();
  });
  it('times out strictly after the limit', () => {
    expect(hasTimedOut(0, 900 * S, 900 * S)).toBe(false);
    expect(hasTimedOut(0, 900 * S + 1, 900 * S)).toBe(true);
  });
  it('settled = seen twice and unchanged for settleS', () => {
    expect(isSettled({ stableLooks: 1, stableSince: 0 }, 10 * S, S)).toBe(false);
    expect(isSettled({ stableLooks: 2, stableSince: 0 }, 999, S)).toBe(false);
    expect(isSettled({ stableLooks: 2, stableSince: 0 }, S, S)).toBe(true);
  });
});

describe('transitions', () => {
  it('allows only the documented edges', () => {
    expect(canTransition('collecting', 'ready')).toBe(true);
    expect(canTransition('ready', 'converting')).toBe(true);
    expect(canTransition('converting', 'converted')).toBe(true);
    expect(canTransition('converted', 'converting')).toBe(false);
    expect(canTransition('collecting', 'converting')).toBe(false);
    expect(canTransition('abandoned', 'converting')).toBe(false);
    expect(canTransition('incomplete', 'converting')).toBe(false);
    for (const s of GROUP_STATES) expect(canTransition(s, s)).toBe(false);
  });
});

describe('classifyExit and retries', () => {
  const base: ExitFacts = {
    exitCode: 0,
    signal: null,
    timedOut: false,
    spawnError: false,
    aborted: false,
    outputExists: true,
    expectResult: true,
    result: { ok: true },
  };
  it.each<[string, Partial<ExitFacts>, string, boolean]>([
    ['exit 0 + output + ok result', {}, 'ok', false],
    ['exit 0 without output', { outputExists: false }, 'no_output', true],
    ['exit 0, result ok:false', { result: { ok: false } }, 'bad_result', false],
    ['exit 0, unreadable result', { result: null }, 'bad_result', false],
    ['exit 0, missing result', { result: undefined }, 'bad_result', false],
    ['exit 0, no result asked', { expectResult: false, result: undefined }, 'ok', false],
    ['timeout', { timedOut: true, exitCode: null, signal: 'SIGKILL' }, 'timeout', true],
    ['SIGKILL (OOM)', { exitCode: null, signal: 'SIGKILL' }, 'oom', true],
    ['SIGABRT crash', { exitCode: null, signal: 'SIGABRT' }, 'crashed', true],
    ['exit 2 I/O', { exitCode: 2 }, 'io', true],
    ['exit 5 validation', { exitCode: 5 }, 'validation', false],
    ['exit 8 conversion (first attempt)', { exitCode: 8 }, 'conversion', true],
    ['exit 1 general', { exitCode: 1 }, 'failed', true],
    ['spawn error', { spawnError: true, exitCode: null }, 'spawn_error', true],
  ])('%s → %s', (_n, facts, outcome, retriable) => {
    const o = classifyExit({ ...base, ...facts });
    expect(o).toBe(outcome);
    expect(isRetriable(o, 1)).toBe(retriable);
  });
  it('conversion errors are retried once', () => {
    expect(isRetriable('conversion', 1)).toBe(true);
    expect(isRetriable('conversion', 2)).toBe(false);
  });
  it('the conversions queue backs off exponentially from retryBaseS, capped at retryMaxS', () => {
    const policy = retryPolicyOf({ retryBaseS: 60, retryMaxS: 1800 });
    const mid = () => 0.5;
    expect(backoffMs(policy, 1, mid)).toBe(60 * S);
    expect(backoffMs(policy, 2, mid)).toBe(120 * S);
    expect(backoffMs(policy, 10, mid)).toBe(1800 * S);
    expect(backoffMs(policy, 1, () => 0)).toBe(54 * S);
    expect(backoffMs(RETRY_NOW, 3, () => 1)).toBe(0);
  });
});

describe('argv template', () => {
  it('expands placeholders inside arguments, never through a shell', () => {
    const argv = expandArgv(['conv', '--in={manifest}', '{out}', 'a b;rm -rf /', '{group}'], {
      manifest: '/s/m.json',
      out: '/o/x.ms',
      result: '/s/r.json',
      scratch: '/s',
      group: '2025-06-01T12:00:00',
    });
    expect(argv).toEqual(['conv', '--in=/s/m.json', '/o/x.ms', 'a b;rm -rf /', '2025-06-01T12:00:00']);
  });
  it('rejects unknown placeholders with the key path', () => {
    expect(() => validateArgvTemplate(['x', '{manifest}', '{python}'])).toThrow(
      /converter\.argv\.2: unknown placeholder \{python\}/,
    );
  });
});
