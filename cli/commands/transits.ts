// contimg transits: calibrator meridian transits in a time range, sorted by time. Sources: --source
// entries only; else the calibrator table (with a config) or the built-in list. Needs no daemon; with
// --store, the rows are upserted into calibrator_transits (idempotent: running twice adds nothing). Each row
// has the transit shape of GET /api/pointing/transits (daemons/pointing-monitor/views.ts).
import type { Command } from 'commander';
import type { Calibrator, TransitModel } from '../../lib/astro/index.js';
import type { ScheduledTransit } from '../../daemons/pointing-monitor/schedule.js';
import type { Config } from '../../lib/config/index.js';
import { parseDurationMs, printJson, UsageError } from '../util.js';
import { openState, siteAndDut1, type SiteOpts } from './pointing.js';

interface TransitsOpts extends SiteOpts {
  from?: string;
  next: string;
  model: string;
  source: string[];
  dec?: string;
  within?: string;
  minFlux?: string;
  store?: boolean;
  json?: boolean;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

function parseSource(text: string): Calibrator {
  const [name, ra, dec] = text.split(',').map((s) => s.trim());
  const raDeg = Number(ra);
  const decDeg = Number(dec);
  if (
    !name ||
    !Number.isFinite(raDeg) ||
    !Number.isFinite(decDeg) ||
    raDeg < 0 ||
    raDeg >= 360 ||
    Math.abs(decDeg) > 90
  )
    throw new UsageError(`--source: expected NAME,RA_DEG,DEC_DEG, got "${text}"`);
  return { name, raDeg, decDeg, fluxJy: null, altNames: [], catalog: 'manual' };
}

function num(v: string | undefined, what: string): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${what}: expected a number, got "${v}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command('transits')
    .description('calibrator meridian transits in a time range (apparent model by default)')
    .option('--from <iso>', 'start (UTC ISO; default now)')
    .option('--next <duration>', 'length of the range, e.g. 24h, 2d', '24h')
    .option('--model <model>', 'apparent | legacy', 'apparent')
    .option('--source <name,ra,dec>', 'a source (repeatable); only these are used', collect, [])
    .option('--dec <deg>', 'pointing declination: adds separation and beam response')
    .option('--within <deg>', 'with --dec: only sources within this many degrees')
    .option('--min-flux <jy>', 'only calibrators with at least this 20 cm flux')
    .option('--dut1 <seconds>', 'UT1−UTC in seconds')
    .option('--site <lat,lon,h>', 'site as latitude,east longitude,height')
    .option('--store', 'upsert the rows into calibrator_transits (needs a config)')
    .option('--config <file>', 'config file (optional)')
    .option('--json', 'print JSON only')
    .action(async (opts: TransitsOpts) => {
      const astro = await import('../../lib/astro/index.js');
      if (!['apparent', 'legacy'].includes(opts.model)) throw new UsageError('--model: apparent or legacy');
      const model = opts.model as TransitModel;
      const { site, dut1, config } = await siteAndDut1(opts);
      let fromMs: number;
      try {
        fromMs = opts.from ? astro.parseUtc(opts.from) : Date.now();
      } catch (e) {
        throw new UsageError(`--from: ${(e as Error).message}`);
      }
      const toMs = fromMs + parseDurationMs(opts.next);
      const dec = num(opts.dec, '--dec');
      const within = num(opts.within, '--within');
      const minFlux = num(opts.minFlux, '--min-flux');
      let cals: readonly Calibrator[] = opts.source.map(parseSource);
      if (cals.length === 0 && config) cals = await tableCalibrators(config);
      // An unseeded table (the daemon has not run yet) falls back to the built-in list.
      if (cals.length === 0 && opts.source.length === 0) cals = astro.BUILTIN_CALIBRATORS;
      const chosen = cals
        .filter((c) => dec === null || within === null || Math.abs(c.decDeg - dec) <= within)
        .filter((c) => minFlux === null || (c.fluxJy ?? 0) >= minFlux);
      // The daemon's own windows and eligibility (its config, or the defaults), so a row printed or stored
      // here never contradicts its schedule.
      const { scheduleConfigFrom, transitsOf } = await import('../../daemons/pointing-monitor/schedule.js');
      const cfg = scheduleConfigFrom(config?.pointingMonitor ?? (await defaultPointingSection()));
      const schedule: ScheduledTransit[] = chosen
        .flatMap((c) => transitsOf(c, dec, fromMs, toMs, cfg, { model, site, dut1 }))
        .sort((a, b) => a.transitMs - b.transitMs);
      if (opts.store) await store(schedule, dec, opts);
      const { transitView } = await import('../../daemons/pointing-monitor/views.js');
      const rows = schedule.map(transitView);
      if (opts.json) return printJson(rows);
      for (const r of rows)
        process.stdout.write(
          `${r.transitUtc}  ${r.name.padEnd(12)} LST ${r.lstHours.toFixed(5)} h  el ${r.elevationDeg.toFixed(2)}°` +
            (r.decSepDeg === null
              ? ''
              : `  Δdec ${r.decSepDeg.toFixed(2)}°  PB ${r.pbResponse?.toFixed(2)}`) +
            '\n',
        );
    });
}

async function tableCalibrators(config: Config): Promise<Calibrator[]> {
  const { listCalibrators } = await import('../../daemons/pointing-monitor/store.js');
  const db = await openState(config);
  try {
    return db.read((c) => listCalibrators(c));
  } finally {
    db.close();
  }
}

/** The pointingMonitor section's defaults, for the windows when no config is given. */
async function defaultPointingSection(): Promise<Config['pointingMonitor']> {
  const { pointingMonitorSection } = await import('../../lib/config/sections/pointing-monitor.js');
  const here = process.cwd();
  return pointingMonitorSection({ baseDir: here, dataDir: here }).parse({});
}

async function store(
  rows: ScheduledTransit[],
  pointingDec: number | null,
  opts: TransitsOpts,
): Promise<void> {
  const { requireConfig } = await import('../util.js');
  const { upsertTransit } = await import('../../daemons/pointing-monitor/store.js');
  const db = await openState(requireConfig(opts.config), true);
  try {
    const now = Date.now();
    db.write((c) => {
      for (const r of rows) upsertTransit(c, r, pointingDec, now);
    });
  } finally {
    db.close();
  }
}
