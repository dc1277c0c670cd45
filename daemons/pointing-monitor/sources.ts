// File inputs of the pointing monitor: calibrator lists (VLA manual text, CSV or the original's
// vla_calibrators.sqlite3) and the UT1−UTC provider from the `site` section. Nothing is ever downloaded.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import {
  constantDut1,
  iersDut1,
  parseCalibratorCsv,
  parseFinals2000A,
  parseVlaCalibratorText,
  type Calibrator,
  type Dut1Provider,
} from '../../lib/astro/index.js';
import type { Config } from '../../lib/config/index.js';
import { ConfigError, ValidationError } from '../../lib/errors.js';

/** Read a calibrator list; the format follows the file: SQLite (by magic), `.csv`, or VLA manual text. */
export function loadCalibratorFile(file: string): Calibrator[] {
  const head = Buffer.alloc(16);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 16, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.toString('latin1').startsWith('SQLite format 3')) return fromVlaSqlite(file);
  const text = fs.readFileSync(file, 'utf8');
  const cals = file.toLowerCase().endsWith('.csv')
    ? parseCalibratorCsv(text, 'vla')
    : parseVlaCalibratorText(text);
  if (cals.length === 0)
    throw new ValidationError(`${file}: no calibrators found (expected VLA csource.txt or CSV)`);
  return cals;
}

/** The original pipeline's vla_calibrators.sqlite3: calibrators(name, ra_deg, dec_deg, alt_name) + fluxes. */
function fromVlaSqlite(file: string): Calibrator[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT c.name, c.ra_deg, c.dec_deg, c.alt_name, f.flux_jy FROM calibrators c
         LEFT JOIN fluxes f ON f.name = c.name AND f.band = '20cm' ORDER BY c.name`,
      )
      .all() as {
      name: string;
      ra_deg: number;
      dec_deg: number;
      alt_name: string | null;
      flux_jy: number | null;
    }[];
    return rows.map((r) => ({
      name: r.name,
      raDeg: r.ra_deg,
      decDeg: r.dec_deg,
      fluxJy: r.flux_jy,
      altNames: r.alt_name ? [r.alt_name] : [],
      catalog: 'vla' as const,
    }));
  } finally {
    db.close();
  }
}

/** UT1−UTC as configured: the IERS file when given (the constant outside its range), else the constant. */
export function dut1Provider(site: Config['site']): Dut1Provider {
  if (!site.iersFile) return constantDut1(site.dut1Seconds);
  let text: string;
  try {
    text = fs.readFileSync(site.iersFile, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `site.iersFile: cannot read ${site.iersFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      ['site.iersFile: unreadable'],
    );
  }
  try {
    return iersDut1(parseFinals2000A(text), site.dut1Seconds);
  } catch (e) {
    throw new ConfigError(`site.iersFile: ${site.iersFile}: ${(e as Error).message}`, [
      'site.iersFile: not a finals2000A file',
    ]);
  }
}
