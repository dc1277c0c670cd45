import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  jitterSeconds,
  parseFault,
  simulate,
  waitBeforeGroupMs,
  writeGroup,
} from '../../../lib/sim/index.js';
import { checkObservation, inspectUvh5, readUvh5Header } from '../../../lib/uvh5/index.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeEach(() => {
  dir = makeTmpDir('contimg-sim-');
});
afterEach(() => removeTmpDir(dir));

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

describe('parseFault', () => {
  it.each([
    ['missing-subband', { kind: 'missing-subband', group: 0, subband: 7 }],
    ['corrupt-file@2', { kind: 'corrupt-file', group: 2, subband: 3 }],
    ['slow-writer@1:12', { kind: 'slow-writer', group: 1, subband: 12 }],
  ])('%s', (text, want) => expect(parseFault(text)).toEqual(want));
  it('rejects unknown kinds', () => expect(() => parseFault('meteor-strike')).toThrow(/bad fault/));
});

describe('the simulator', () => {
  it('keeps sb00 on the observation time and jitters the rest within the bound', () => {
    for (let sb = 0; sb < 16; sb++) {
      const j = jitterSeconds(3, sb, 2);
      expect(j).toBeGreaterThanOrEqual(0);
      expect(j).toBeLessThanOrEqual(2);
    }
    expect(jitterSeconds(3, 0, 2)).toBe(0);
  });

  it('writes one consistent 16-subband observation by temp name + rename, leaving no temp files', async () => {
    const files = await writeGroup({ incomingDir: dir, groups: 1, cadenceS: 0, startMs: T0, jitterS: 2 }, 0);
    expect(files).toHaveLength(16);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    for (const f of files) expect(path.basename(f)).toMatch(/^2025-06-01T12:00:0[0-2]_sb\d\d\.hdf5$/);
    const subs = files.map((f, sb) => ({ subband: sb, header: readUvh5Header(f) }));
    expect(checkObservation(subs, 16)).toMatchObject({ ok: true, nSubbands: 16 });
  });

  it('applies faults: missing subband, corrupt (truncated) file, wrong Nfreqs, duplicate', async () => {
    const faults = [
      'missing-subband@0:7',
      'corrupt-file@0:3',
      'wrong-nfreqs@0:11',
      'duplicate-subband@0:9',
    ].map(parseFault);
    const files = await writeGroup(
      { incomingDir: dir, groups: 1, cadenceS: 0, startMs: T0, jitterS: 0, faults },
      0,
    );
    expect(files).toHaveLength(16); // 15 subbands + one duplicate
    const names = files.map((f) => path.basename(f));
    expect(names.some((n) => n.endsWith('_sb07.hdf5'))).toBe(false);
    expect(names.filter((n) => n.endsWith('_sb09.hdf5'))).toEqual([
      '2025-06-01T12:00:00_sb09.hdf5',
      '2025-06-01T12:00:03_sb09.hdf5',
    ]);
    expect(inspectUvh5(path.join(dir, '2025-06-01T12:00:00_sb03.hdf5'))).toMatchObject({
      ok: false,
      reason: 'truncated',
    });
    expect(readUvh5Header(path.join(dir, '2025-06-01T12:00:00_sb11.hdf5')).nfreqs).toBe(47);
  });

  it('spaces observations by spacingS and stops when aborted', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const n = await simulate({
      incomingDir: dir,
      groups: 5,
      cadenceS: 0,
      spacingS: 309,
      startMs: T0,
      jitterS: 0,
      signal: ac.signal,
      onFile: ({ group }) => {
        seen.push(group);
        if (group === 1) ac.abort();
      },
    });
    expect(n).toBeLessThanOrEqual(2);
    expect(fs.existsSync(path.join(dir, '2025-06-01T12:05:09_sb00.hdf5'))).toBe(true);
    expect(fs.existsSync(path.join(dir, '2025-06-01T12:10:18_sb00.hdf5'))).toBe(false);
  });

  it('real-time pacing replays a backlog at the cadence, then waits for each observation to complete', () => {
    const o = { incomingDir: dir, groups: 10, cadenceS: 5, spacingS: 309, startMs: T0, realTime: true };
    // Group 1 (starting T0 + 309 s) is complete at T0 + 618 s.
    expect(waitBeforeGroupMs(o, 1, T0 + 3_600_000)).toBe(5_000); // long past: backlog at the cadence
    expect(waitBeforeGroupMs(o, 1, T0 + 600_000)).toBe(18_000); // 18 s before it completes
    expect(waitBeforeGroupMs(o, 1, T0 + 617_000)).toBe(5_000); // never sooner than the cadence
    expect(waitBeforeGroupMs({ ...o, realTime: false }, 1, T0 + 600_000)).toBe(5_000);
  });
});
