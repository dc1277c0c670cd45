// Declination changes (CLI side) and the command shapes of lst, transits and pointing, through the BUILT CLI
// (dist/cli/contimg.js) as an operator runs it: no daemon, and no config file unless the test passes one.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli } from '../../helpers/cli.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';

const cli = (args: string[]) => runCli(args, { built: true });
const json = async (args: string[]) => {
  const r = await cli([...args, '--json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Record<string, unknown>[];
};

let dir: string;
let config: string;
let statePath: string;
beforeAll(async () => {
  dir = makeTmpDir('contimg-pointing-cli-');
  ({ statePath } = await freshDatabases(dir));
  config = path.join(dir, 'contimg.yaml');
  fs.writeFileSync(
    config,
    YAML.stringify({
      dataDir: dir,
      databases: { state: statePath, pipeline: path.join(dir, 'pipeline.sqlite3') },
    }),
  );
});
afterAll(() => removeTmpDir(dir));

const FROM = ['--from', '2025-01-01T00:00:00Z', '--next', '24h'];
const APPARENT = [
  ['3C48', '2025-01-01T02:48:11.464Z'],
  ['3C138', '2025-01-01T06:31:05.447Z'],
  ['3C147', '2025-01-01T06:52:58.465Z'],
  ['J0834+555', '2025-01-01T09:44:47.962Z'],
  ['3C286', '2025-01-01T14:39:24.748Z'],
];
const LEGACY = ['02:46:45.588', '06:29:37.583', '06:51:00.303', '09:42:50.841', '14:38:15.702'];

describe('contimg transits', () => {
  it('lists the 5 built-in calibrators in time order (apparent, ±0.25 s)', async () => {
    const rows = await json(['transits', ...FROM]);
    expect(rows.map((r) => r.name)).toEqual(APPARENT.map((a) => a[0]));
    rows.forEach((r, i) => {
      expect(r.transitUtc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(r.model).toBe('apparent');
      expect(Math.abs(Date.parse(r.transitUtc as string) - Date.parse(APPARENT[i][1]))).toBeLessThanOrEqual(
        250,
      );
      for (const k of ['lstHours', 'elevationDeg']) expect(typeof r[k]).toBe('number');
    });
  });

  it('legacy model (±0.05 s)', async () => {
    const rows = await json(['transits', ...FROM, '--model', 'legacy']);
    rows.forEach((r, i) => {
      expect(r.model).toBe('legacy');
      expect(
        Math.abs(Date.parse(r.transitUtc as string) - Date.parse(`2025-01-01T${LEGACY[i]}Z`)),
      ).toBeLessThanOrEqual(50);
    });
  });

  it('--source only, with --dec: separation and beam response; --dut1 shifts by −0.5 s; 2d accepted', async () => {
    const args = ['transits', ...FROM, '--source', 'X,202.7845,30.5092', '--dec', '30.5092'];
    const [a] = await json(args);
    expect(a).toMatchObject({ name: 'X', decSepDeg: 0, pbResponse: 1 });
    const [b] = await json([...args, '--dut1', '0.5']);
    expect((Date.parse(b.transitUtc as string) - Date.parse(a.transitUtc as string)) / 1000).toBeCloseTo(
      -0.5,
      2,
    );
    const two = await json([
      'transits',
      '--from',
      '2025-01-01T00:00:00Z',
      '--next',
      '2d',
      '--dec',
      '16.27',
      '--within',
      '1.5',
    ]);
    expect(two.map((r) => r.name)).toEqual(['3C138', '3C138']);
  });

  it('--store twice keeps 10 rows (both models)', async () => {
    for (let i = 0; i < 2; i++) {
      for (const model of ['apparent', 'legacy']) {
        const r = await cli(['transits', ...FROM, '--model', model, '--store', '--config', config, '--json']);
        expect(r.code).toBe(0);
      }
      const db = new Database(statePath, { readonly: true });
      expect((db.prepare('SELECT count(*) AS n FROM calibrator_transits').get() as { n: number }).n).toBe(10);
      // Without a pointing the windows are the fixed ±activeHalfWindowS (300 s) around the transit, as the
      // daemon stores them, never a zero-width window.
      const widths = db
        .prepare(
          'SELECT transit_unix - window_start_unix AS before, window_end_unix - transit_unix AS after FROM calibrator_transits',
        )
        .all() as { before: number; after: number }[];
      for (const w of widths) {
        expect(w.before).toBeCloseTo(300, 6);
        expect(w.after).toBeCloseTo(300, 6);
      }
      db.close();
    }
  });

  it('rejects a bad model with a usage error', async () => {
    const r = await cli(['transits', ...FROM, '--model', 'mean']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--model/);
  });
});

describe('contimg lst', () => {
  it('prints one {utc, lastHours, lmstHours} per --at', async () => {
    const rows = await json(['lst', '--at', '2025-01-01T00:00:00Z', '--at', '2030-12-31T23:59:59Z']);
    expect(rows).toHaveLength(2);
    expect(rows[0].utc).toBe('2025-01-01T00:00:00.000Z');
    expect(Math.abs((rows[0].lastHours as number) - 22.841193536)).toBeLessThan(5.6e-6);
    expect(Math.abs((rows[1].lmstHours as number) - 22.811137503)).toBeLessThan(2.8e-7);
    const now = await json(['lst']);
    expect(now).toHaveLength(1);
    expect(now[0].lastHours).toBeGreaterThanOrEqual(0);
    expect(now[0].lastHours).toBeLessThan(24);
  });
});

describe('contimg pointing', () => {
  it('header: times and null pointing for a real HERA file; exit 1 for an implausible epoch', async () => {
    const hera = await cli([
      'pointing',
      'header',
      path.join(SHARED_DATA, 'uvh5/zen.2458661.23480.HH.uvh5'),
      '--json',
    ]);
    expect(hera.code).toBe(0);
    const h = JSON.parse(hera.stdout) as Record<string, unknown>;
    expect(h).toMatchObject({ decDeg: null, haDeg: null, raAppDeg: null, epochOk: true });
    expect(h.startUtc).toMatch(/^2019-06-26T17:38/);
    for (const k of ['startUtc', 'midUtc', 'endUtc', 'midMjd']) expect(h[k]).toBeDefined();
    const mwa = await cli([
      'pointing',
      'header',
      path.join(SHARED_DATA, 'uvh5/mwa_integration_time.uvh5'),
      '--json',
    ]);
    expect(mwa.code).toBe(1);
    expect((JSON.parse(mwa.stdout) as { rejected: { reason: string } }).rejected.reason).toBe(
      'epoch_out_of_range',
    );
  });

  it('calibrators import (VLA text) skips a second name for 3C286; list filters by dec', async () => {
    const file = path.join(dir, 'csource.txt');
    fs.writeFileSync(
      file,
      [
        '1331+305   J2000  A 13h31m08.288060s  30d30\'32.958850"  Aug01  3C286',
        ' 20cm    L  P P P P      15.00',
        '1642+689   J2000  A 16h42m07.848507s  68d56\'39.756350"  Aug01',
        ' 20cm    L  P P P P       1.20',
      ].join('\n'),
    );
    const seed = await cli(['transits', ...FROM, '--config', config, '--json']);
    expect(seed.code).toBe(0);
    const db = new Database(statePath);
    db.prepare(
      "INSERT OR IGNORE INTO calibrators (name, ra_deg, dec_deg, catalog, updated_unix) VALUES ('3C286', 202.7845, 30.5092, 'builtin', 0)",
    ).run();
    db.close();
    const [imp] = [
      JSON.parse(
        (await cli(['pointing', 'calibrators', 'import', file, '--config', config, '--json'])).stdout,
      ),
    ];
    expect(imp).toMatchObject({ parsed: 2, written: 1, duplicates: 1 });
    const near = await json([
      'pointing',
      'calibrators',
      'list',
      '--dec',
      '68.9',
      '--within',
      '1',
      '--config',
      config,
    ]);
    expect(near.map((c) => c.name)).toEqual(['J1642+689']);
    const builtin = await json(['pointing', 'calibrators', 'list']);
    expect(builtin.map((c) => c.name)).toContain('J0834+555');
  });

  it('status and history read the state database', async () => {
    expect(await json(['pointing', 'status', '--config', config])).toBeNull();
    expect(await json(['pointing', 'history', '--since', '7d', '--config', config])).toEqual([]);
    expect(await json(['pointing', 'history', '--since', '7d', '--changes', '--config', config])).toEqual([]);
  });
});
