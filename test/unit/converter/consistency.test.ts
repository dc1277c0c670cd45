import { describe, expect, it } from 'vitest';
import { checkObservation, type SubbandHeader } from '../../../lib/uvh5/consistency.js';
import { subbandFreqsHz } from '../../../lib/uvh5/writer.js';
import type { Uvh5Header } from '../../../lib/uvh5/types.js';

function header(sb: number, over: Partial<Uvh5Header> = {}): SubbandHeader {
  const h: Uvh5Header = {
    path: `/x/sb${sb}`,
    nblts: 24,
    ntimes: 24,
    nfreqs: 48,
    nbls: 1,
    nspws: 1,
    npols: 2,
    timesJd: Array.from({ length: 24 }, (_, i) => 2460828 + i * 0.000149),
    freqsHz: subbandFreqsHz(sb),
    integrationTimeS: 12.884902,
    telescopeName: 'OVRO_MMA',
    phaseCenterDecRad: 0.97,
    haPhaseCenterRad: 0,
    extraKeywords: {},
    ...over,
  };
  return { subband: sb, header: h };
}
const all = () => Array.from({ length: 16 }, (_, sb) => header(sb));

describe('checkObservation', () => {
  it('accepts 16 consistent subbands', () => {
    const r = checkObservation(all(), 16);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.nSubbands).toBe(16);
    expect(r.freqMaxHz! - r.freqMinHz!).toBeCloseTo(16 * 48 * 244140.625 - 244140.625, 0);
  });
  it('reports a missing subband unless partial is allowed', () => {
    const subs = all().filter((s) => s.subband !== 7);
    expect(checkObservation(subs, 16).problems).toContain('missing subbands 7');
    expect(checkObservation(subs, 16, true).ok).toBe(true);
  });
  it('reports different times, declinations, overlapping frequencies and duplicates', () => {
    const subs = all();
    subs[3] = header(3, { timesJd: subs[0].header.timesJd.map((x) => x + 1 / 86400) });
    subs[4] = header(4, { phaseCenterDecRad: 0.5 });
    subs[5] = header(5, { freqsHz: subbandFreqsHz(6) });
    const r = checkObservation([...subs, header(2)], 16);
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/sb03: times differ/);
    expect(r.problems.join('\n')).toMatch(/declinations differ/);
    expect(r.problems.join('\n')).toMatch(/overlaps/);
    expect(r.problems.join('\n')).toMatch(/subband 2 appears twice/);
  });
});
