import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectUvh5, jdToUnixMs, readUvh5Header } from '../../../lib/uvh5/index.js';
import { subbandFreqsHz, writeSubbandFile, DSA110 } from '../../../lib/uvh5/writer.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { REAL_UVH5, START_MS, writeBadFiles, type BadFiles } from './fixtures.js';

let dir: string;
let bad: BadFiles;
beforeAll(() => {
  dir = makeTmpDir('contimg-uvh5-');
  bad = writeBadFiles(dir);
});
afterAll(() => removeTmpDir(dir));

describe('readUvh5Header on real pyuvdata files', () => {
  it('reads the HERA file: BigInt scalars as numbers, (1, Nfreqs) freq_array, JD times', () => {
    const h = readUvh5Header(REAL_UVH5[0]);
    expect(h).toMatchObject({
      nblts: 200,
      ntimes: 20,
      nfreqs: 4,
      nbls: 10,
      nspws: 1,
      npols: 2,
      telescopeName: 'HERA',
    });
    expect(h.freqsHz).toHaveLength(4);
    expect(h.timesJd).toHaveLength(20);
    expect(h.timesJd[0]).toBeCloseTo(2458661.2348, 3);
    expect(new Date(jdToUnixMs(h.timesJd[0])).toISOString().slice(0, 10)).toBe('2019-06-26');
    expect(h.integrationTimeS).toBeCloseTo(1.879, 3);
    expect(h.phaseCenterDecRad).toBeNull();
    expect(h.extraKeywords.obs_id).toBe(1561570687);
    expect(() => JSON.stringify(h)).not.toThrow();
  });

  it('reads the MWA and simulated files', () => {
    expect(readUvh5Header(REAL_UVH5[1])).toMatchObject({
      nblts: 451,
      ntimes: 11,
      nfreqs: 5,
      telescopeName: 'MWA',
    });
    expect(readUvh5Header(REAL_UVH5[1]).extraKeywords.OBSDEC).toBe(-27);
    expect(readUvh5Header(REAL_UVH5[2])).toMatchObject({ nblts: 17, ntimes: 15, nfreqs: 4 });
  });
});

describe('DSA-110 files written by lib/uvh5/writer', () => {
  it('round-trips the header fields with their units', () => {
    const p = path.join(dir, '2025-06-01T12:00:00_sb05.hdf5');
    writeSubbandFile(p, { subband: 5, startMs: START_MS, decRad: 0.95, haRad: -0.002 });
    const h = readUvh5Header(p);
    expect(h).toMatchObject({ ntimes: 24, nfreqs: 48, npols: 2, telescopeName: 'OVRO_MMA' });
    expect(h.phaseCenterDecRad).toBe(0.95);
    expect(h.haPhaseCenterRad).toBe(-0.002);
    expect(h.integrationTimeS).toBeCloseTo(12.884902, 6);
    expect(h.freqsHz).toEqual(subbandFreqsHz(5));
    expect(h.timesJd).toHaveLength(24);
    const firstMs = jdToUnixMs(h.timesJd[0]);
    expect(Math.abs(firstMs - (START_MS + 6442.451))).toBeLessThan(1);
    const spanS = (jdToUnixMs(h.timesJd[23]) - firstMs) / 1000;
    expect(spanS).toBeCloseTo(23 * DSA110.integrationS, 2);
  });

  it('accepts a (Nfreqs) freq_array as well', () => {
    const p = path.join(dir, 'flat-freqs.hdf5');
    writeSubbandFile(p, { subband: 2, startMs: START_MS, decRad: 0.1, flatFreqArray: true });
    const h = readUvh5Header(p);
    expect(h.freqsHz).toEqual(subbandFreqsHz(2));
  });

  it('keeps 16 subbands contiguous and non-overlapping', () => {
    const all = Array.from({ length: 16 }, (_, s) => subbandFreqsHz(s)).flat();
    const sorted = [...all].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++)
      expect(sorted[i] - sorted[i - 1]).toBeCloseTo(DSA110.channelWidthHz, 3);
    expect(sorted[0]).toBeGreaterThan(1.31e9);
    expect(sorted[sorted.length - 1]).toBeLessThan(1.4986e9);
  });
});

describe('inspectUvh5 on bad files', () => {
  it.each([
    ['empty', 'empty'],
    ['text', 'not_hdf5'],
    ['truncated', 'truncated'],
    ['openForWrite', 'open_for_write'],
    ['corruptBody', 'bad_hdf5'],
  ] as const)('%s → %s', (key, reason) => {
    const r = inspectUvh5(bad[key]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('a missing file is unreadable, not an exception', () => {
    const r = inspectUvh5(path.join(dir, 'nope.hdf5'));
    expect(r).toMatchObject({ ok: false, reason: 'unreadable' });
  });

  it('readUvh5Header throws a PermanentError naming the reason', () => {
    expect(() => readUvh5Header(bad.text)).toThrow(/not_hdf5/);
  });

  it('1,000 re-checks of invalid files leave the descriptor count unchanged and print nothing', () => {
    const files = [bad.empty, bad.text, bad.truncated, bad.openForWrite, bad.corruptBody];
    const child = path.join(REPO_ROOT, 'test/unit/uvh5/recheck-child.ts');
    const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
    const out = execFileSync(tsx, [child, '1000', ...files], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const res = JSON.parse(out.toString()) as {
      before: number;
      after: number;
      reasons: Record<string, string>;
    };
    expect(res.after).toBe(res.before);
    expect(res.reasons[bad.corruptBody]).toBe('bad_hdf5');
    expect(res.reasons[bad.truncated]).toBe('truncated');
  });

  it('the child prints no HDF5-DIAG on stderr', () => {
    const child = path.join(REPO_ROOT, 'test/unit/uvh5/recheck-child.ts');
    const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
    const errFile = path.join(dir, 'stderr.txt');
    const fd = fs.openSync(errFile, 'w');
    try {
      execFileSync(tsx, [child, '200', bad.corruptBody, bad.text], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', fd],
      });
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.readFileSync(errFile, 'utf8')).not.toMatch(/HDF5-DIAG/);
  });
});
