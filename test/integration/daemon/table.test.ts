// The one table of daemons (lib/daemon/table.ts) and what derives from it or must follow it: each row's
// folder has main.ts and run.ts, its unit file exists, its page exists and names its port, the config
// section's default port is the row's, its own metrics carry its prefix, and docs/architecture.md's
// picture shows every daemon with its port.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { DAEMONS, type DaemonName } from '../../../lib/daemon/types.js';
import { REPO_ROOT } from '../../helpers/tmp.js';

const names = Object.keys(DAEMONS) as DaemonName[];
const read = (rel: string): string => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

it('every row has its code, unit and page, and ports and sections are distinct', () => {
  expect(names.length).toBe(5);
  for (const name of names) {
    const row = DAEMONS[name];
    for (const f of ['main.ts', 'run.ts'])
      expect(fs.existsSync(path.join(REPO_ROOT, 'daemons', row.folder, f)), `${row.folder}/${f}`).toBe(true);
    expect(fs.existsSync(path.join(REPO_ROOT, 'ops/systemd', row.unit)), row.unit).toBe(true);
    expect(read(row.doc), row.doc).toContain(String(row.port));
  }
  const distinct = (xs: unknown[]) => new Set(xs).size;
  expect(distinct(names.map((n) => DAEMONS[n].port))).toBe(names.length);
  expect(distinct(names.map((n) => DAEMONS[n].section))).toBe(names.length);
  expect(distinct(names.map((n) => DAEMONS[n].metricPrefix))).toBe(names.length);
});

it("the config's default ports are the table's", () => {
  const raw = {
    dataDir: '/data',
    databases: { state: '/data/state.sqlite3', pipeline: '/data/pipeline.sqlite3' },
  };
  const cfg = parseConfig(raw, '/etc/contimg') as unknown as Record<string, { port?: number }>;
  for (const name of names) expect(cfg[DAEMONS[name].section]?.port, name).toBe(DAEMONS[name].port);
});

/** Families a daemon declares beside its prefix: the scheduler's findings, named for what they watch. */
const OTHER_FAMILIES: Partial<Record<DaemonName, string[]>> = {
  scheduler: ['contimg_health_', 'contimg_flux_', 'contimg_validity_', 'contimg_calibration_'],
};

it("a daemon's own series carry its metric prefix", () => {
  for (const name of names) {
    const { folder, metricPrefix } = DAEMONS[name];
    const file = path.join(REPO_ROOT, 'daemons', folder, 'metrics.ts');
    if (!fs.existsSync(file)) continue;
    const src = fs.readFileSync(file, 'utf8');
    const declared = [...src.matchAll(/\bname: [`'"]([^`'"]+)[`'"]/g)].map((m) => m[1]);
    expect(declared.length, folder).toBeGreaterThan(0);
    const prefix = /const ([A-Za-z]) = ['"`](contimg_[^'"`]+)['"`]/.exec(src);
    for (const n of declared) {
      const full = prefix ? n.replace(`\${${prefix[1]}}`, prefix[2]) : n;
      const families = [metricPrefix, ...(OTHER_FAMILIES[name] ?? [])];
      expect(
        families.some((f) => full.startsWith(f)),
        `${folder}: ${full}`,
      ).toBe(true);
    }
  }
});

it("docs/architecture.md's picture shows each daemon with its port", () => {
  const doc = read('docs/architecture.md');
  for (const name of names) {
    expect(doc).toContain(name);
    expect(doc).toContain(`:${DAEMONS[name].port}`);
  }
});
