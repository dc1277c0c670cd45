// Mosaic planning tests: real state and pipeline SQLite files (the scheduler's test environment), simulated
// FITS images written small, and the rows the other daemons would have written for them: the imaging
// pipeline's `images` row, the converter's group (mid_jd, dec_rad, output_path = the image's ms_path), and
// the thumbnail worker's fits_metadata row for the file's current fingerprint (noise = mad_std).
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { jdFromUnixMs } from '../../../lib/astro/time.js';
import type { Db } from '../../../lib/db/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';

export const CADENCE_MS = 309_000;

export interface ImageSpec {
  dir: string;
  /** File stem; the image is `<stem>.image.fits` unless `file` names it. */
  stem: string;
  obsMidMs: number;
  decDeg?: number;
  raDeg?: number;
  noiseJy?: number;
  /** Registered path instead of the written image (a residual, a CASA directory, a missing file). */
  file?: string;
  /** Write no file at all (the `missing` case). */
  noFile?: boolean;
  /** Make a directory instead of a FITS file (a CASA image directory). */
  directory?: boolean;
  /** No fits_metadata row. */
  noMetadata?: boolean;
  /** Use this existing FITS file (copied) instead of a simulated one. */
  copyFrom?: string;
  /** Another image of the same observation: reuse its ms path and group. */
  msOf?: string;
  registeredAtMs?: number;
}

export interface Registered {
  path: string;
  imageId: number;
  msPath: string;
}

/** Write (or not) the file and register it everywhere; returns its registered path. */
export function addImage(state: Db, pipelineRw: Database.Database, s: ImageSpec): Registered {
  fs.mkdirSync(s.dir, { recursive: true });
  const file = path.join(s.dir, s.file ?? `${s.stem}.image.fits`);
  const dec = s.decDeg ?? 55.57;
  if (s.directory) fs.mkdirSync(file, { recursive: true });
  else if (s.copyFrom) fs.copyFileSync(s.copyFrom, file);
  else if (!s.noFile)
    writeSimulatedImage({
      dir: s.dir,
      name: path.basename(file),
      nx: 24,
      ny: 24,
      cellDeg: 3.5 / 24,
      nSources: 2,
      seed: Math.floor(s.obsMidMs / 1000) % 100_000,
      raDeg: s.raDeg ?? (s.obsMidMs / 240_000) % 360,
      decDeg: dec,
      dateObs: new Date(s.obsMidMs - CADENCE_MS / 2).toISOString().replace('Z', ''),
    });
  const msPath = s.msOf ?? path.join(s.dir, `${s.stem}.ms`);
  const created = (s.registeredAtMs ?? s.obsMidMs + 600_000) / 1000;
  const imageId = Number(
    pipelineRw
      .prepare('INSERT INTO images (path, ms_path, created_at, type) VALUES (?, ?, ?, ?)')
      .run(file, msPath, created, '5min').lastInsertRowid,
  );
  state.write((c) => {
    if (!s.msOf)
      c.prepare(
        `INSERT INTO converter_groups (group_id, anchor_ms, state, expected, first_seen_at, last_file_at, output_path,
           dec_rad, mid_jd, updated_at) VALUES (?, ?, 'converted', 16, ?, ?, ?, ?, ?, ?)`,
      ).run(
        s.stem,
        s.obsMidMs,
        s.obsMidMs,
        s.obsMidMs,
        msPath,
        (dec * Math.PI) / 180,
        jdFromUnixMs(s.obsMidMs),
        s.obsMidMs,
      );
    if (s.noFile || s.directory || s.noMetadata) return;
    const st = fs.statSync(file, { bigint: true });
    const ra = s.raDeg ?? (s.obsMidMs / 240_000) % 360;
    const naxis = s.copyFrom ? readAxes(file) : [24, 24, 1, 1];
    c.prepare(
      `INSERT OR REPLACE INTO fits_metadata (path, fingerprint, size, mtime_ns, ino, hdu, bitpix, naxis_json, ctype1,
         ctype2, cdelt1, cdelt2, ra_deg, dec_deg, date_obs, mad_std, parsed_at)
       VALUES (?, ?, ?, ?, ?, 0, -32, ?, 'RA---SIN', 'DEC--SIN', ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      file,
      `${st.size}-${st.mtimeNs}-${st.ino}`,
      Number(st.size),
      st.mtimeNs.toString(),
      Number(st.ino),
      JSON.stringify(naxis),
      -3.5 / 24,
      3.5 / 24,
      ra,
      dec,
      new Date(s.obsMidMs - CADENCE_MS / 2).toISOString(),
      s.noiseJy ?? 0.0005,
      s.obsMidMs,
    );
  });
  return { path: file, imageId, msPath };
}

function readAxes(file: string): number[] {
  const text = fs
    .readFileSync(file)
    .subarray(0, 2880 * 4)
    .toString('latin1');
  const axes: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const m = new RegExp(`NAXIS${i}\\s*=\\s*(\\d+)`).exec(text);
    if (m) axes.push(Number(m[1]));
  }
  return axes;
}

/** n contiguous observations (cadence 309 s) of one strip starting at firstMidMs. */
export function addRun(
  state: Db,
  pipelineRw: Database.Database,
  o: { dir: string; prefix: string; firstMidMs: number; n: number; decDeg?: number },
): Registered[] {
  return Array.from({ length: o.n }, (_, i) =>
    addImage(state, pipelineRw, {
      dir: o.dir,
      stem: `${o.prefix}${String(i).padStart(3, '0')}`,
      obsMidMs: o.firstMidMs + i * CADENCE_MS,
      decDeg: o.decDeg,
    }),
  );
}

export interface PlanDbRow {
  id: number;
  name: string;
  state: string;
  inputs_hash: string;
  rejected_json: string;
  n_selected: number;
  job_id: number | null;
  superseded_by: number | null;
}

export function plans(state: Db): PlanDbRow[] {
  return state.read(
    (c) =>
      c
        .prepare(
          'SELECT id, name, state, inputs_hash, rejected_json, n_selected, job_id, superseded_by FROM mosaic_plans ORDER BY id',
        )
        .all() as PlanDbRow[],
  );
}

export function mosaicJobs(
  state: Db,
): { id: number; state: string; payload: string; dedupe_key: string; priority: number }[] {
  return state.read(
    (c) =>
      c
        .prepare(
          "SELECT id, state, payload, dedupe_key, priority FROM jobs WHERE queue = 'mosaic' ORDER BY id",
        )
        .all() as { id: number; state: string; payload: string; dedupe_key: string; priority: number }[],
  );
}

export function mosaicEvents(state: Db): { type: string; payload: Record<string, unknown> }[] {
  return state.read((c) =>
    (
      c.prepare("SELECT type, payload FROM events WHERE topic = 'mosaic' ORDER BY seq").all() as {
        type: string;
        payload: string;
      }[]
    ).map((e) => ({ type: e.type, payload: JSON.parse(e.payload) as Record<string, unknown> })),
  );
}
