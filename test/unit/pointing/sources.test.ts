// File inputs (calibrator lists, the IERS table) and the pointingMonitor config section.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dut1Provider, loadCalibratorFile } from '../../../daemons/pointing-monitor/sources.js';
import { parseUtc } from '../../../lib/astro/index.js';
import { parseConfig } from '../../../lib/config/index.js';
import { ConfigError, ValidationError } from '../../../lib/errors.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => {
  dir = makeTmpDir('contimg-pointing-sources-');
});
afterAll(() => removeTmpDir(dir));

const cfg = (raw: Record<string, unknown> = {}) =>
  parseConfig({ dataDir: dir, databases: { state: 's.sqlite3', pipeline: 'p.sqlite3' }, ...raw }, dir);

describe('UT1−UTC provider from the site section', () => {
  it('a constant without iersFile', () => {
    const p = dut1Provider(cfg({ site: { dut1Seconds: 0.07 } }).site);
    expect([p.kind, p.valueAt(0), p.ageDays(0)]).toEqual(['constant', 0.07, null]);
  });

  it('a finals2000A file, with the constant outside its range', () => {
    const line = (mjd: number, v: number) =>
      `25 1 1 ${mjd.toFixed(2).padStart(8)}`.padEnd(57) + 'I' + v.toFixed(7).padStart(10);
    const file = path.join(dir, 'finals2000A.all');
    fs.writeFileSync(file, [line(60676, 0.03), line(60677, 0.04)].join('\n'));
    const p = dut1Provider(cfg({ site: { iersFile: 'finals2000A.all', dut1Seconds: 0.2 } }).site);
    expect(p.kind).toBe('iers');
    expect(p.valueAt(parseUtc('2025-01-01T12:00:00Z'))).toBeCloseTo(0.035, 9);
    expect(p.valueAt(parseUtc('2026-01-01T00:00:00Z'))).toBe(0.2);
  });

  it('an unreadable or empty file is a config error', () => {
    expect(() => dut1Provider(cfg({ site: { iersFile: 'missing.all' } }).site)).toThrow(ConfigError);
    fs.writeFileSync(path.join(dir, 'empty.all'), 'nothing here\n');
    expect(() => dut1Provider(cfg({ site: { iersFile: 'empty.all' } }).site)).toThrow(/finals2000A|two/);
  });
});

describe('calibrator files', () => {
  it('reads the original vla_calibrators.sqlite3 with 20 cm fluxes', () => {
    const file = path.join(dir, 'vla_calibrators.sqlite3');
    const db = new Database(file);
    db.exec(`CREATE TABLE calibrators (name TEXT PRIMARY KEY, ra_deg REAL, dec_deg REAL, position_code TEXT, alt_name TEXT);
             CREATE TABLE fluxes (name TEXT, band TEXT, band_code TEXT, flux_jy REAL, freq_hz REAL, quality_codes TEXT,
                                  PRIMARY KEY (name, band));
             INSERT INTO calibrators VALUES ('J1642+6856', 250.5327, 68.9444, 'A', NULL), ('J1911+1611', 287.8, 16.19, 'A', NULL);
             INSERT INTO fluxes VALUES ('J1642+6856', '20cm', 'L', 1.2, 1.4e9, 'PPPP'), ('J1911+1611', '0.7cm', 'Q', 0.3, 4.3e10, 'PPPP');`);
    db.close();
    const cals = loadCalibratorFile(file);
    expect(cals.map((c) => [c.name, c.fluxJy, c.catalog])).toEqual([
      ['J1642+6856', 1.2, 'vla'],
      ['J1911+1611', null, 'vla'],
    ]);
  });

  it('reads CSV and rejects a file with no calibrators', () => {
    fs.writeFileSync(path.join(dir, 'cals.csv'), 'name,ra,dec,flux\nA,1,2,3\n');
    expect(loadCalibratorFile(path.join(dir, 'cals.csv'))).toHaveLength(1);
    fs.writeFileSync(path.join(dir, 'junk.txt'), 'hello\n');
    expect(() => loadCalibratorFile(path.join(dir, 'junk.txt'))).toThrow(ValidationError);
  });
});

describe('pointingMonitor config section', () => {
  it('has the documented defaults', () => {
    const c = cfg();
    expect(c.pointingMonitor).toMatchObject({
      port: 9311,
      transitModel: 'apparent',
      decChangeThresholdDeg: 0.1,
      decChangeConfirmGroups: 2,
      calibratorDecToleranceDeg: 1.5,
      minPbResponse: 0.3,
      activeWindow: 'fixed',
      activeHalfWindowS: 300,
      staleAfterS: 900,
      beam: { dishDiameterM: 4.65, freqHz: 1.405e9 },
    });
    expect(c.site).toMatchObject({ latDeg: 37.2314, lonDeg: -118.2817, heightM: 1222, dut1Seconds: 0 });
  });

  it('rejects unknown keys and bad values with the key path', () => {
    expect(() => cfg({ pointingMonitor: { transitModle: 'legacy' } })).toThrow(
      /pointingMonitor\.transitModle: unknown key/,
    );
    expect(() => cfg({ pointingMonitor: { transitModel: 'mean' } })).toThrow(/pointingMonitor\.transitModel/);
    expect(() => cfg({ pointingMonitor: { calibrators: [{ name: 'X', raDeg: 400, decDeg: 0 }] } })).toThrow(
      /pointingMonitor\.calibrators\.0\.raDeg/,
    );
  });
});
