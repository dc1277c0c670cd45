// contimg lst: apparent and mean local sidereal time at one or more instants. Needs no daemon and no
// config file (the site defaults to DSA-110; --site or --config override it).
import type { Command } from 'commander';
import { printJson, UsageError } from '../util.js';
import { siteAndDut1, type SiteOpts } from './pointing.js';

interface LstOpts extends SiteOpts {
  at: string[];
  json?: boolean;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

function hms(hours: number): string {
  const totalMs = Math.round(hours * 3_600_000);
  const h = Math.floor(totalMs / 3_600_000) % 24;
  const m = Math.floor(totalMs / 60_000) % 60;
  const s = (totalMs % 60_000) / 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
}

export function register(program: Command): void {
  program
    .command('lst')
    .description('local sidereal time (apparent and mean) at the site')
    .option('--at <iso>', 'UTC instant (repeatable; default: now)', collect, [])
    .option('--dut1 <seconds>', 'UT1−UTC in seconds (default: config site.dut1Seconds / iersFile, else 0)')
    .option('--site <lat,lon,h>', 'site as latitude,east longitude (deg),height (m)')
    .option('--config <file>', 'config file for the site and UT1−UTC (optional)')
    .option('--json', 'print JSON only')
    .action(async (opts: LstOpts) => {
      // Only the time and sidereal modules (not all of lib/astro): `contimg lst` is typed dozens of times a day.
      const [time, sidereal] = await Promise.all([
        import('../../lib/astro/time.js'),
        import('../../lib/astro/sidereal.js'),
      ]);
      const astro = { ...time, ...sidereal };
      const { site, dut1 } = await siteAndDut1(opts);
      const instants = opts.at.length ? opts.at : [new Date().toISOString()];
      const rows = instants.map((iso) => {
        let ms: number;
        try {
          ms = astro.parseUtc(iso);
        } catch (e) {
          throw new UsageError(`--at: ${(e as Error).message}`);
        }
        const dut1S = dut1(ms);
        return {
          utc: astro.isoUtc(ms),
          lastHours: astro.lstHours(ms, { lonDeg: site.lonDeg, dut1S }),
          lmstHours: astro.lstHours(ms, { lonDeg: site.lonDeg, dut1S, kind: 'mean' }),
          dut1S,
        };
      });
      if (opts.json) return printJson(rows);
      for (const r of rows)
        process.stdout.write(
          `${r.utc}  LAST ${hms(r.lastHours)} (${r.lastHours.toFixed(6)} h)  LMST ${hms(r.lmstHours)}  UT1−UTC ${r.dut1S} s\n`,
        );
    });
}
