// `contimg alerts`: an operator sees what the daemons raised, before any dispatcher delivers it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert, resolveAlert } from '../../../lib/alerts/index.js';
import { openDb } from '../../../lib/db/index.js';
import { runCli } from '../../helpers/cli.js';
import { configuredDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
let config: string;
let firing: string;

beforeAll(async () => {
  dir = makeTmpDir();
  const dbs = await configuredDatabases(dir);
  config = dbs.config;
  const { statePath } = dbs;
  const db = openDb({ name: 'state', path: statePath });
  const t0 = Date.UTC(2025, 5, 1, 12);
  db.write((c) => {
    firing = raiseAlert(
      c,
      {
        alertname: 'ConverterGroupIncomplete',
        severity: 'warning',
        labels: { group: '2025-06-01T12:00:00' },
        annotations: { summary: '15 of 16 subbands after 900 s' },
        source: 'streaming-converter',
      },
      t0,
    ).fingerprint;
    raiseAlert(c, { alertname: 'PointingDataStale', severity: 'warning', labels: {} }, t0);
    resolveAlert(c, { alertname: 'PointingDataStale', labels: {} }, t0 + 60_000);
  });
  db.close();
});
afterAll(() => removeTmpDir(dir));

describe('contimg alerts', () => {
  it('lists firing alerts only when asked, as JSON', async () => {
    const r = await runCli(['alerts', 'list', '--config', config, '--status', 'firing', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { alertname: string; fingerprint: string }[];
    expect(rows.map((a) => a.alertname)).toEqual(['ConverterGroupIncomplete']);
    expect(rows[0].fingerprint).toBe(firing);
  });

  it('shows one alert with its history, and a clear error for an unknown one', async () => {
    const r = await runCli(['alerts', 'show', firing, '--config', config, '--json']);
    expect(r.code).toBe(0);
    const a = JSON.parse(r.stdout) as { status: string; history: { event: string }[] };
    expect(a.status).toBe('firing');
    expect(a.history.map((h) => h.event)).toEqual(['fired']);
    const missing = await runCli(['alerts', 'show', 'nope', '--config', config]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no alert with fingerprint nope');
    const bad = await runCli(['alerts', 'list', '--config', config, '--status', 'burning']);
    expect(bad.code).toBe(2);
  });
});
