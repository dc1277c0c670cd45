// The validity evaluation, pure: the type map, completeness, covering, expiry, the expired gauge, nearest age
// and staleness thresholds, incomplete newest set, overlap conflicts, missing tables, missed transits.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import {
  evaluateValidity,
  groupSets,
  roleOf,
  setsToCheckOnDisk,
  type CaltableRow,
} from '../../../daemons/scheduler/validity/evaluate.js';

const H = 3_600_000;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const mjd = (ms: number) => ms / 86_400_000 + 40587;
const base = parseConfig({ dataDir: '/d', databases: { state: 's', pipeline: 'p' } }, '/d').scheduler
  .validity;

function set(
  name: string,
  types: string[],
  startMs: number | null,
  endMs: number | null,
  o: { createdMs?: number; refant?: string; field?: string } = {},
): CaltableRow[] {
  return types.map((t) => ({
    setName: name,
    path: `/cal/${name}_${t}`,
    tableType: t,
    createdAt: (o.createdMs ?? endMs ?? startMs ?? NOW) / 1000,
    startMjd: startMs === null ? null : mjd(startMs),
    endMjd: endMs === null ? null : mjd(endMs),
    calField: o.field ?? '3C286',
    refant: o.refant ?? '103',
  }));
}

const evaluate = (rows: CaltableRow[], missing: Record<string, string[]> = {}, cfg = base) =>
  evaluateValidity(groupSets(rows, cfg.requiredTypes), NOW, cfg, missing);
const names = (r: ReturnType<typeof evaluate>) =>
  r.findings
    .map((f) => `${f.alertname}${Object.keys(f.labels).length ? JSON.stringify(f.labels) : ''}:${f.severity}`)
    .sort();

describe('the type map', () => {
  it('maps K, BA, BP, GA, GP, 2G and FLUX', () => {
    expect(['K', 'BA', 'BP', 'GA', 'GP', '2G', 'FLUX', 'XX', 'bp'].map(roleOf)).toEqual([
      'delay',
      'bandpass',
      'bandpass',
      'gain',
      'gain',
      'gain',
      'flux',
      'other',
      'bandpass',
    ]);
  });

  it('a set is complete with bandpass and gain, whichever of their types it has', () => {
    const sets = groupSets(
      [
        ...set('a', ['BA', 'GA'], 0, 1),
        ...set('b', ['BP', '2G'], 0, 1),
        ...set('c', ['K', 'FLUX', 'BP'], 0, 1),
      ],
      base.requiredTypes,
    );
    expect(sets.map((s) => [s.name, s.complete, s.missingRoles])).toEqual([
      ['a', true, []],
      ['b', true, []],
      ['c', false, ['gain']],
    ]);
  });
});

describe('validity findings', () => {
  const rows = [
    // Covering, complete, ends in 90 min; the newest set.
    ...set('covering', ['K', 'BP', 'GP'], NOW - 0.5 * H, NOW + 1.5 * H, { createdMs: NOW - 0.4 * H }),
    // Missing gain, ended 3 h ago.
    ...set('nogain', ['K', 'BA'], NOW - 5 * H, NOW - 3 * H),
    // Open-ended (no end): covers now.
    ...set('open', ['BP', 'GA'], NOW - 2 * H, null, { createdMs: NOW - 2 * H }),
    // Two overlapping sets with different refants, 20 h ago.
    ...set('x1', ['BP', 'GP'], NOW - 21 * H, NOW - 19 * H, { refant: '103' }),
    ...set('x2', ['BP', 'GP'], NOW - 20 * H, NOW - 18 * H, { refant: '88' }),
    // Ended 30 h ago: outside the expired lookback (24 h).
    ...set('old', ['BP', 'GP'], NOW - 32 * H, NOW - 30 * H),
  ];
  const r = evaluate(rows, { covering: ['/cal/covering_GP'] });

  it('counts covering sets, expiry, expiring and the expired gauge over the last 24 h only', () => {
    expect(r.covering.sort()).toEqual(['covering', 'open']);
    expect(r.activeSets).toBe(2);
    expect(r.hoursUntilExpiry).toBe(Infinity); // the open-ended set keeps coverage going
    expect(r.expiringSoon).toBe(1);
    expect(r.expired).toBe(3); // nogain, x1, x2 (old ended 30 h ago)
    expect(r.incomplete).toEqual(['nogain']);
    expect(r.nearest?.set).toBe('covering');
    expect(r.nearest?.ageHours).toBeCloseTo(0.5);
    expect(r.lastValidMs).toBe(NOW - 0.4 * H);
  });

  it('raises the conflict and the missing table (critical: the newest complete set)', () => {
    expect(names(r)).toEqual([
      'CalibrationOverlapConflict{"set_a":"x1","set_b":"x2"}:warning',
      'CalibrationTableMissing{"set_name":"covering"}:critical',
    ]);
    const missingOld = evaluate(rows, { x1: ['/cal/x1_GP'] });
    expect(names(missingOld)).toContain('CalibrationTableMissing{"set_name":"x1"}:warning');
  });

  it('the newest set lacking gain is CalibrationSetIncomplete', () => {
    const newestIncomplete = [
      ...rows,
      ...set('late', ['K', 'BP'], NOW - 0.2 * H, NOW + 1.8 * H, { createdMs: NOW }),
    ];
    expect(names(evaluate(newestIncomplete))).toContain(
      'CalibrationSetIncomplete{"set_name":"late"}:warning',
    );
  });

  it('same refant and field: no conflict', () => {
    const same = [...set('s1', ['BP', 'GP'], NOW - 2 * H, NOW), ...set('s2', ['BP', 'GP'], NOW - H, NOW + H)];
    expect(evaluate(same).conflicts).toEqual([]);
  });

  it.each([
    [25, []],
    [27, ['CalibrationStale:warning']],
    [50, ['CalibrationStale:critical']],
  ])('nearest complete set %i h away → %j', (hours, expected) => {
    const only = set('s', ['BP', 'GP'], NOW - hours * H - H, NOW - hours * H + H);
    const got = evaluate(only);
    expect(names(got)).toEqual(expected);
    expect(got.nearest?.ageHours).toBeCloseTo(hours);
    expect(got.hoursUntilExpiry).toBe(0);
  });

  it('no complete set at all is critical staleness', () => {
    const r2 = evaluate(set('k', ['K'], NOW - H, NOW + H));
    expect(names(r2)).toEqual([
      'CalibrationSetIncomplete{"set_name":"k"}:warning',
      'CalibrationStale:critical',
    ]);
    expect(r2.nearest).toBeNull();
    expect(evaluate([]).findings.map((f) => f.alertname)).toEqual(['CalibrationStale']);
  });

  it('checks on disk only the sets in use or recent', () => {
    const sets = groupSets(rows, base.requiredTypes);
    const checked = setsToCheckOnDisk(sets, NOW, base)
      .map((s) => s.name)
      .sort();
    // 'old' ended 30 h ago, inside the 48 h lookback; a set from last week would not be checked.
    expect(checked).toEqual(['covering', 'nogain', 'old', 'open', 'x1', 'x2']);
    const lastWeek = groupSets(
      set('lastweek', ['BP', 'GP'], NOW - 170 * H, NOW - 168 * H),
      base.requiredTypes,
    );
    expect(setsToCheckOnDisk([...sets, ...lastWeek], NOW, base).map((s) => s.name)).not.toContain('lastweek');
  });

  it('a transit with data and no set covering it, after afterHours, is CalibratorTransitMissed (when on)', () => {
    const cfg = { ...base, transitCheck: { enabled: true, afterHours: 3, lookbackHours: 48 } };
    const calRows = [
      ...set('t1', ['BP', 'GP'], NOW - 11 * H, NOW - 9 * H),
      ...set('t2', ['BP', 'GP'], NOW - 5 * H, NOW - 3 * H),
    ];
    const transits = [
      { calibrator: '3C286', transitMs: NOW - 10 * H }, // covered by t1
      { calibrator: 'J0834+555', transitMs: NOW - 4 * H }, // covered by t2
      { calibrator: '3C48', transitMs: NOW - 1 * H }, // too recent to judge
      { calibrator: '3C147', transitMs: NOW - 60 * H }, // before the lookback
    ];
    const all = groupSets(calRows, cfg.requiredTypes);
    expect(evaluateValidity(all, NOW, cfg, {}, transits).missedTransits).toEqual([]);
    const onlyT1 = groupSets(
      calRows.filter((x) => x.setName === 't1'),
      cfg.requiredTypes,
    );
    const missed = evaluateValidity(onlyT1, NOW, cfg, {}, transits);
    expect(missed.missedTransits.map((t) => t.calibrator)).toEqual(['J0834+555']);
    expect(missed.findings.map((f) => f.alertname)).toContain('CalibratorTransitMissed');
    // Off by default.
    expect(evaluateValidity(onlyT1, NOW, base, {}, transits).missedTransits).toEqual([]);
  });
});
