// Declination-change detection, pure (the database side is in test/integration/pointing).
import { describe, expect, it } from 'vitest';
import {
  emptyDetector,
  isSlewing,
  stepDetector,
  type DetectorState,
} from '../../../daemons/pointing-monitor/detector.js';

const CFG = { thresholdDeg: 0.1, confirmGroups: 2, jitterDeg: 0.01 };

function feed(decs: number[], start: DetectorState = emptyDetector(), t0 = 0) {
  let st = start;
  const kinds: string[] = [];
  const slewing: number[] = [];
  decs.forEach((d, i) => {
    const r = stepDetector(st, { groupId: `g${t0 + i}`, midUnix: (t0 + i) * 300, decDeg: d }, CFG);
    st = r.state;
    kinds.push(...r.actions.map((a) => a.kind));
    slewing.push(isSlewing(st) ? 1 : 0);
  });
  return { st, kinds, slewing };
}

describe('declination detector', () => {
  it('a steady pointing starts one segment and only extends it', () => {
    const { st, kinds } = feed(Array(20).fill(54.5734));
    expect(kinds.filter((k) => k === 'started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'extended')).toHaveLength(19);
    expect(st.stable).toMatchObject({ decDeg: 54.5734, nGroups: 20, startUnix: 0, endUnix: 19 * 300 });
  });

  it('drops a one-group glitch (slewing 1 then 0) and confirms after two groups', () => {
    const a = feed(Array(20).fill(54.5734));
    const b = feed([16.27, 54.5734], a.st, 20);
    expect(b.kinds).toEqual(['slewing', 'glitch_dropped', 'extended']);
    expect(b.slewing).toEqual([1, 0]);
    const c = feed([16.27, 16.27], b.st, 22);
    expect(c.kinds).toEqual(['slewing', 'confirmed']);
    expect(c.st.stable).toMatchObject({ decDeg: 16.27, startUnix: 22 * 300, nGroups: 2 });
  });

  it('compares with the stable segment, not the previous row: a slow drift below threshold never fires', () => {
    const { kinds } = feed([54.5734, 54.62, 54.66]);
    expect(kinds).toEqual(['started', 'extended', 'extended']);
    const drift = feed([54.5734, 54.62, 54.68, 54.68]);
    expect(drift.kinds.slice(-2)).toEqual(['slewing', 'confirmed']);
  });

  it('a candidate that moves again restarts the confirmation', () => {
    const a = feed([54.5734, 54.5734]);
    const b = feed([16.27, 50.5, 50.5], a.st, 2);
    expect(b.kinds).toEqual(['slewing', 'slewing', 'confirmed']);
    expect(b.st.stable?.decDeg).toBe(50.5);
  });
});
