// contimg pointing: header FILE, status, history, calibrators list|import. Also the site/UT1−UTC option
// handling shared with `contimg lst` and `contimg transits`: the command line wins, then the config file
// when one is given (--config or CONTIMG_CONFIG), then the DSA-110 defaults.
import type { Command } from 'commander';
import type { Calibrator } from '../../lib/astro/index.js';
import type { Db } from '../../lib/db/index.js';
import type { Site } from '../../lib/astro/index.js';
import type { Config } from '../../lib/config/index.js';
import { configPath, parseDurationMs, printJson, requireConfig, UsageError } from '../util.js';

export interface SiteOpts {
  dut1?: string;
  site?: string;
  config?: string;
}

export function optionalConfig(opt: string | undefined): Config | undefined {
  return configPath(opt) ? requireConfig(opt) : undefined;
}

export async function siteAndDut1(
  opts: SiteOpts,
): Promise<{ site: Site; dut1: (utcMs: number) => number; config?: Config }> {
  const { DSA110_SITE } = await import('../../lib/astro/site.js');
  const config = optionalConfig(opts.config);
  let site: Site = config
    ? { latDeg: config.site.latDeg, lonDeg: config.site.lonDeg, heightM: config.site.heightM }
    : DSA110_SITE;
  if (opts.site) {
    const parts = opts.site.split(',').map(Number);
    if (parts.length !== 3 || !parts.every(Number.isFinite))
      throw new UsageError('--site: expected lat,lon,height');
    site = { latDeg: parts[0], lonDeg: parts[1], heightM: parts[2] };
  }
  if (opts.dut1 !== undefined) {
    const v = Number(opts.dut1);
    if (!Number.isFinite(v) || Math.abs(v) >= 1) throw new UsageError('--dut1: expected seconds within ±1');
    return { site, dut1: () => v, config };
  }
  if (config) {
    const { dut1Provider } = await import('../../daemons/pointing-monitor/sources.js');
    const p = dut1Provider(config.site);
    return { site, dut1: (t) => p.valueAt(t), config };
  }
  return { site, dut1: () => 0, config };
}

/** The state database of a config, schema-checked; read-only unless writing. */
export async function openState(config: Config, write = false): Promise<Db> {
  const { openDb } = await import('../../lib/db/index.js');
  const { assertSchema } = await import('../../lib/migrations/index.js');
  const db = openDb({ name: 'state', path: config.databases.state, readonly: !write });
  try {
    assertSchema(db, 'state');
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

async function header(file: string, opts: SiteOpts & { json?: boolean }): Promise<void> {
  const { readUvh5Header } = await import('../../lib/uvh5/index.js');
  const { pointingFromHeader } = await import('../../lib/uvh5/pointing.js');
  const { site, dut1 } = await siteAndDut1(opts);
  const r = pointingFromHeader(readUvh5Header(file), { nowMs: Date.now(), site, dut1 });
  const out = r.ok
    ? { ...r.pointing, epochOk: true, rejected: null }
    : { ...(r.pointing ?? { path: file }), epochOk: false, rejected: { reason: r.reason, detail: r.detail } };
  if (!r.ok) process.exitCode = 1;
  if (opts.json) return printJson(out);
  const p = r.pointing;
  if (!p) return void process.stdout.write(`${file}: rejected: ${!r.ok ? r.detail : ''}\n`);
  const f = (v: number | null, d = 6) => (v === null ? 'n/a' : v.toFixed(d));
  process.stdout.write(
    `${file}\n  start ${p.startUtc}  mid ${p.midUtc} (MJD ${p.midMjd.toFixed(8)})  end ${p.endUtc}\n` +
      `  dec ${f(p.decDeg)}°  HA ${f(p.haDeg)}°  RA(app) ${f(p.raAppDeg)}°  LAST ${p.lstHours.toFixed(6)} h\n` +
      (p.pointingNote ? `  note: ${p.pointingNote}\n` : '') +
      (!r.ok ? `  REJECTED: ${r.detail}\n` : ''),
  );
}

async function status(opts: { config?: string; json?: boolean }): Promise<void> {
  const { pointingStatus } = await import('../../daemons/pointing-monitor/admin.js');
  const db = await openState(requireConfig(opts.config));
  try {
    const snap = db.read(pointingStatus);
    if (opts.json) return printJson(snap);
    if (!snap) return void process.stdout.write('no pointing status yet (has the pointing monitor run?)\n');
    process.stdout.write(`as of ${snap.utc}: dec ${snap.decDeg ?? 'unknown'} (${snap.state})\n`);
    for (const u of snap.upcoming) process.stdout.write(`  ${u.transitUtc}  ${u.name}\n`);
  } finally {
    db.close();
  }
}

async function history(opts: {
  config?: string;
  since: string;
  changes?: boolean;
  json?: boolean;
}): Promise<void> {
  const { listChanges, listSegments } = await import('../../daemons/pointing-monitor/admin.js');
  const sinceUnix = (Date.now() - parseDurationMs(opts.since)) / 1000;
  const db = await openState(requireConfig(opts.config));
  try {
    const rows = db.read((c) => (opts.changes ? listChanges(c, sinceUnix) : listSegments(c, sinceUnix)));
    if (opts.json) return printJson(rows);
    for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
  } finally {
    db.close();
  }
}

async function calibratorsList(opts: {
  config?: string;
  dec?: string;
  within?: string;
  minFlux?: string;
  json?: boolean;
}): Promise<void> {
  const astro = await import('../../lib/astro/index.js');
  const config = optionalConfig(opts.config);
  let cals: readonly Calibrator[] = astro.BUILTIN_CALIBRATORS;
  if (config) {
    const { listCalibrators } = await import('../../daemons/pointing-monitor/store.js');
    const db = await openState(config);
    try {
      cals = db.read((c) => listCalibrators(c));
    } finally {
      db.close();
    }
  }
  const dec = opts.dec === undefined ? null : Number(opts.dec);
  const within = Number(opts.within ?? 2.5);
  const minFlux = opts.minFlux === undefined ? null : Number(opts.minFlux);
  const rows = cals
    .filter((c) => dec === null || Math.abs(c.decDeg - dec) <= within)
    .filter((c) => minFlux === null || (c.fluxJy ?? 0) >= minFlux)
    .map((c) => ({ ...c, decSepDeg: dec === null ? null : Math.abs(c.decDeg - dec) }));
  if (opts.json) return printJson(rows);
  for (const c of rows)
    process.stdout.write(
      `${c.name.padEnd(12)} ${c.raDeg.toFixed(4).padStart(9)} ${c.decDeg.toFixed(4).padStart(9)} ${String(c.fluxJy ?? '-').padStart(7)} Jy  ${c.catalog}\n`,
    );
}

async function calibratorsImport(file: string, opts: { config?: string; json?: boolean }): Promise<void> {
  const { loadCalibratorFile } = await import('../../daemons/pointing-monitor/sources.js');
  const { upsertCalibrators } = await import('../../daemons/pointing-monitor/store.js');
  const cals = loadCalibratorFile(file);
  const db = await openState(requireConfig(opts.config), true);
  try {
    const r = db.write((c) => upsertCalibrators(c, cals, Date.now()));
    const out = { file, parsed: cals.length, ...r, withFlux: cals.filter((c) => c.fluxJy !== null).length };
    if (opts.json) return printJson(out);
    process.stdout.write(
      `imported ${r.written} calibrators from ${file} (${r.duplicates} duplicates of existing sources skipped)\n`,
    );
  } finally {
    db.close();
  }
}

export function register(program: Command): void {
  const p = program
    .command('pointing')
    .description('pointing from data headers, status, history, calibrators');
  p.command('header <file>')
    .description(
      'times, declination, hour angle and apparent RA from a UVH5 header (exit 1 if the epoch is implausible)',
    )
    .option('--dut1 <seconds>', 'UT1−UTC in seconds')
    .option('--site <lat,lon,h>', 'site as latitude,east longitude,height')
    .option('--config <file>', 'config file for the site and UT1−UTC (optional)')
    .option('--json', 'print JSON only')
    .action((file: string, opts: SiteOpts & { json?: boolean }) => header(file, opts));
  p.command('status')
    .description('the pointing monitor status snapshot from the state database')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON only')
    .action(status);
  p.command('history')
    .description('pointing segments (or declination changes) since a time ago')
    .option('--since <duration>', 'e.g. 7d, 24h', '7d')
    .option('--changes', 'list declination changes instead of segments')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON only')
    .action(history);
  const c = p.command('calibrators').description('the calibrator table');
  c.command('list')
    .description('calibrators (the database when configured, else the built-in list)')
    .option('--dec <deg>', 'only those near this declination')
    .option('--within <deg>', 'declination tolerance for --dec', '2.5')
    .option('--min-flux <jy>', 'minimum 20 cm flux')
    .option('--config <file>', 'config file (optional)')
    .option('--json', 'print JSON only')
    .action(calibratorsList);
  c.command('import <file>')
    .description('import the VLA calibrator manual (csource.txt), a CSV or vla_calibrators.sqlite3')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON only')
    .action(calibratorsImport);
}
