// The UVH5 pointing header (regression for the original's JD-read-as-seconds bug) on a file
// built here with h5wasm, on simulator-written DSA-110 files and on the real pyuvdata files.
import fs from 'node:fs';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstHours, unixMsFromJd } from '../../../lib/astro/index.js';
import { readUvh5Header, writeSubbandFile } from '../../../lib/uvh5/index.js';
import { pointingFromHeader } from '../../../lib/uvh5/pointing.js';
import { makeTmpDir, removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';

await h5wasm.ready;
const DT = 12.884902;
const NOW = Date.parse('2026-01-01T00:00:00Z');
const SITE = { latDeg: 37.2314, lonDeg: -118.2817, heightM: 1222 };
let dir: string;

/** A minimal UVH5 header: 24 times × 3 baselines of time_array plus the DSA-110 extra_keywords. */
function buildFile(file: string, timeScale = 1): void {
  const f = new h5wasm.File(file, 'w');
  const H = f.create_group('Header');
  const times = new Float64Array(72);
  for (let k = 0; k < 24; k++) times.fill((2460000.5 + (k * DT) / 86400) * timeScale, k * 3, k * 3 + 3);
  const int64 = (name: string, v: number) =>
    H.create_dataset({ name, data: BigInt64Array.from([BigInt(v)]), shape: [], dtype: '<q' });
  int64('Nblts', 72);
  int64('Ntimes', 24);
  int64('Nfreqs', 2);
  int64('Nbls', 3);
  H.create_dataset({ name: 'time_array', data: times, shape: [72], dtype: '<d' });
  H.create_dataset({
    name: 'freq_array',
    data: Float64Array.from([1.4e9, 1.41e9]),
    shape: [1, 2],
    dtype: '<d',
  });
  H.create_dataset({
    name: 'integration_time',
    data: new Float64Array(72).fill(DT),
    shape: [72],
    dtype: '<d',
  });
  const ek = H.create_group('extra_keywords');
  ek.create_dataset({
    name: 'phase_center_dec',
    data: Float64Array.from([(54.5734 * Math.PI) / 180]),
    shape: [],
    dtype: '<d',
  });
  ek.create_dataset({ name: 'ha_phase_center', data: Float64Array.from([0]), shape: [], dtype: '<d' });
  f.close();
}

beforeAll(() => {
  dir = makeTmpDir('contimg-pointing-header-');
});
afterAll(() => removeTmpDir(dir));

describe('pointing from a UVH5 header', () => {
  it('reads JD times, declination and apparent RA (spec file)', () => {
    const file = path.join(dir, 'spec.uvh5');
    buildFile(file);
    const r = pointingFromHeader(readUvh5Header(file), { nowMs: NOW, site: SITE });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const p = r.pointing;
    expect(Math.abs(p.midMjd - (60000.0 + (11.5 * DT) / 86400))).toBeLessThanOrEqual(1e-9);
    expect(Math.abs((p.decDeg ?? NaN) - 54.5734)).toBeLessThanOrEqual(1e-9);
    expect(p.haDeg).toBe(0);
    const last = lstHours(p.midUtcMs, { lonDeg: SITE.lonDeg });
    expect(Math.abs((p.raAppDeg ?? NaN) - 15 * last)).toBeLessThanOrEqual(1e-4);
    expect(p.midUtc).toBe('2023-02-25T00:02:28.176Z');
    // JD doubles resolve ~40 µs at this epoch.
    expect(Math.abs(p.endUtcMs - p.startUtcMs - 24 * DT * 1000)).toBeLessThan(0.1);
    expect(p.pointingNote).toBeNull();
  });

  it('rejects a file whose time_array is 1e3 times smaller (epoch outside the sanity range)', () => {
    const file = path.join(dir, 'small.uvh5');
    buildFile(file, 1e-3);
    const r = pointingFromHeader(readUvh5Header(file), { nowMs: NOW, site: SITE });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe('epoch_out_of_range');
  });

  it('rejects a future epoch beyond now + 1 day', () => {
    const file = path.join(dir, 'spec2.uvh5');
    buildFile(file);
    const r = pointingFromHeader(readUvh5Header(file), {
      nowMs: Date.parse('2023-02-23T00:00:00Z'),
      site: SITE,
    });
    expect(r.ok).toBe(false);
  });

  it('reads simulator-written DSA-110 files (sb00): dec, HA and RA = LAST − HA', () => {
    const startMs = Date.parse('2025-10-02T12:00:00Z');
    const file = path.join(dir, '2025-10-02T12:00:00_sb00.hdf5');
    writeSubbandFile(file, {
      subband: 0,
      startMs,
      decRad: (16.27 * Math.PI) / 180,
      haRad: (1.5 * Math.PI) / 180,
    });
    const r = pointingFromHeader(readUvh5Header(file), { nowMs: NOW, site: SITE, dut1: 0.1 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const p = r.pointing;
    expect(p.decDeg).toBeCloseTo(16.27, 9);
    expect(p.haDeg).toBeCloseTo(1.5, 9);
    expect(p.nTimes).toBe(24);
    expect(Math.abs(p.startUtcMs - startMs)).toBeLessThan(1);
    expect(Math.abs(p.midUtcMs - (startMs + 12 * DT * 1000))).toBeLessThan(1);
    const last = lstHours(p.midUtcMs, { lonDeg: SITE.lonDeg, dut1S: 0.1 });
    expect(p.raAppDeg).toBeCloseTo((15 * last - 1.5 + 360) % 360, 6);
    expect(p.dut1S).toBe(0.1);
  });
});

describe('real pyuvdata files (no DSA-110 extra_keywords)', () => {
  const uvh5 = path.join(SHARED_DATA, 'uvh5');
  const files = fs.readdirSync(uvh5).filter((f) => f.endsWith('.uvh5'));

  it('has the three shared files', () => expect(files.sort()).toHaveLength(3));

  it.each(files)('%s: times are Julian Dates; dec/HA null with a reason', (name) => {
    const h = readUvh5Header(path.join(uvh5, name));
    const r = pointingFromHeader(h, { nowMs: NOW, site: SITE });
    const p = r.ok ? r.pointing : r.pointing;
    expect(p).not.toBeNull();
    if (!p) return;
    expect(p.startUtcMs).toBeLessThanOrEqual(unixMsFromJd(h.timesJd[0]));
    expect(p.midUtcMs).toBeCloseTo(
      (unixMsFromJd(h.timesJd[0]) + unixMsFromJd(h.timesJd[h.timesJd.length - 1])) / 2,
      3,
    );
    expect(new Date(p.midUtcMs).getUTCFullYear()).toBeGreaterThanOrEqual(2016);
    expect(p.decDeg).toBeNull();
    expect(p.haDeg).toBeNull();
    expect(p.raAppDeg).toBeNull();
    expect(p.pointingNote).toMatch(/phase_center_dec/);
  });

  it('HERA zen.2458661.23480 starts at the JD in its name; the 2016/2017 files fail the epoch gate', () => {
    const hera = pointingFromHeader(readUvh5Header(path.join(uvh5, 'zen.2458661.23480.HH.uvh5')), {
      nowMs: NOW,
      site: SITE,
    });
    expect(hera.ok).toBe(true);
    if (hera.ok) expect(Math.abs(hera.pointing.startUtcMs - unixMsFromJd(2458661.2348))).toBeLessThan(2_000);
    for (const f of ['mwa_integration_time.uvh5', 'simulated_bda_file.uvh5']) {
      const r = pointingFromHeader(readUvh5Header(path.join(uvh5, f)), { nowMs: NOW, site: SITE });
      expect(r.ok ? 'ok' : r.reason).toBe('epoch_out_of_range');
    }
  });
});
