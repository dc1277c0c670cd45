// The planner's candidates, read (never written): the pipeline database's `images` rows of a window, each
// joined to the converter's group for its observation mid-time and pointing declination
// (converter_groups.output_path = images.ms_path; mid_jd, dec_rad), to the thumbnail worker's fits_metadata
// row of the file's current fingerprint for its noise (mad_std) and axes, and to the file itself (stat, and
// the header for the frame and, when the converter has no group for the image, DATE-OBS and CRVAL2).
// Header fallback for the observation time: DATE-OBS (the start) plus half a cadence.
import fs from 'node:fs';
import { unixMsFromJd, jdFromUnixMs } from '../../../lib/astro/time.js';
import type { Db } from '../../../lib/db/index.js';
// The header modules, not the lib/fits barrel: an idle scheduler loads no pixel decoder or renderer.
import { findFirstImage } from '../../../lib/fits/hdu.js';
import { extractMetadata, type FitsMetadata } from '../../../lib/fits/metadata.js';
import { frameKey } from '../../../lib/mosaic/manifest.js';
import type { Candidate } from '../../../lib/mosaic/plan/index.js';

const FITS_EXT = /\.(fits?|fts)$/i;
/** Images are registered after their observation; this much clock disagreement is tolerated. */
const REGISTERED_BEFORE_SLACK_MS = 3_600_000;
/** How long after an observation its image may still be registered and planned (a slow imaging backlog). */
const REGISTERED_AFTER_MS = 2 * 86_400_000;
const CHUNK = 500;

interface ImageRow {
  id: number;
  path: string;
  ms_path: string;
  created_at: number;
}

interface GroupRow {
  output_path: string;
  mid_jd: number | null;
  dec_rad: number | null;
}

interface MetaRow {
  path: string;
  size: number;
  mtime_ns: string;
  ino: number;
  naxis_json: string;
  ctype1: string | null;
  ctype2: string | null;
  cdelt2: number | null;
  cellsize_arcsec: number | null;
  date_obs: string | null;
  ra_deg: number | null;
  dec_deg: number | null;
  freq_hz: number | null;
  mad_std: number | null;
}

interface HeaderFacts {
  frame: string;
  meta: FitsMetadata;
}

function readHeader(path: string): HeaderFacts | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, 'r');
    const hdu = findFirstImage(fd, { maxBlocks: 100 });
    const v = hdu.header.values;
    const radesys = v.get('RADESYS') ?? v.get('RADECSYS');
    const eq = v.get('EQUINOX') ?? v.get('EPOCH');
    return {
      frame: frameKey(
        typeof radesys === 'string' ? radesys : undefined,
        typeof eq === 'number' ? eq : undefined,
      ),
      meta: extractMetadata(hdu.header),
    };
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function statOf(path: string): Candidate['file'] {
  try {
    const st = fs.statSync(path, { bigint: true });
    return {
      size: Number(st.size),
      mtimeNs: st.mtimeNs.toString(),
      ino: Number(st.ino),
      isDirectory: st.isDirectory(),
    };
  } catch {
    return null;
  }
}

/** A CASA image directory stands for its sibling `<dir>.fits` when one was exported. */
function usablePath(registered: string): string {
  const p = registered.replace(/\/+$/, '');
  if (FITS_EXT.test(p)) return p;
  return fs.existsSync(`${p}.fits`) ? `${p}.fits` : p;
}

function chunks<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

export interface LoadOptions {
  window: { fromMs: number; toMs: number };
  cadenceS: number;
  /**
   * Read each file's header for its frame (default true). The staleness check needs no frame: it reads a
   * header only when neither the converter nor the thumbnail worker knows the image.
   */
  frames?: boolean;
}

export function loadCandidates(state: Db, pipeline: Db, o: LoadOptions): Candidate[] {
  const { fromMs, toMs } = o.window;
  const margin = o.cadenceS * 1000;
  const groups = state.read(
    (c) =>
      c
        .prepare(
          `SELECT output_path, mid_jd, dec_rad FROM converter_groups
           WHERE output_path IS NOT NULL AND mid_jd >= ? AND mid_jd < ?`,
        )
        .all(jdFromUnixMs(fromMs - margin), jdFromUnixMs(toMs + margin)) as GroupRow[],
  );
  const byMs = new Map(groups.map((g) => [g.output_path, g]));
  const images = pipeline.read((c) => {
    const rows = new Map<number, ImageRow>();
    const byTime = c
      .prepare('SELECT id, path, ms_path, created_at FROM images WHERE created_at >= ? AND created_at <= ?')
      .all((fromMs - REGISTERED_BEFORE_SLACK_MS) / 1000, (toMs + REGISTERED_AFTER_MS) / 1000) as ImageRow[];
    for (const r of byTime) rows.set(r.id, r);
    for (const part of chunks([...byMs.keys()])) {
      const byGroup = c
        .prepare(
          `SELECT id, path, ms_path, created_at FROM images WHERE ms_path IN (SELECT value FROM json_each(?))`,
        )
        .all(JSON.stringify(part)) as ImageRow[];
      for (const r of byGroup) rows.set(r.id, r);
    }
    return [...rows.values()];
  });
  // Lookups by path, not by a wide join: the thumbnail worker's rows are keyed on the file path.
  const paths = images.map((i) => usablePath(i.path));
  const metas = new Map<string, MetaRow>();
  state.read((c) => {
    const q = c.prepare(
      `SELECT path, size, mtime_ns, ino, naxis_json, ctype1, ctype2, cdelt2, cellsize_arcsec, date_obs, ra_deg,
         dec_deg, freq_hz, mad_std
       FROM fits_metadata WHERE path IN (SELECT value FROM json_each(?))`,
    );
    for (const part of chunks(paths))
      for (const m of q.all(JSON.stringify(part)) as MetaRow[]) metas.set(m.path, m);
  });
  return images.map((img, k) => candidateOf(img, paths[k]!, byMs.get(img.ms_path), metas.get(paths[k]!), o));
}

function candidateOf(
  img: ImageRow,
  path: string,
  group: GroupRow | undefined,
  metaRow: MetaRow | undefined,
  o: LoadOptions,
): Candidate {
  const file = statOf(path);
  const regular = file !== null && !file.isDirectory && FITS_EXT.test(path);
  // The metadata row counts only while it describes these very bytes.
  const meta =
    metaRow &&
    file &&
    metaRow.size === file.size &&
    metaRow.mtime_ns === file.mtimeNs &&
    metaRow.ino === file.ino
      ? metaRow
      : undefined;
  const header = regular && (o.frames !== false || (!group && !meta)) ? readHeader(path) : null;
  const h = header?.meta;
  const dateObs = meta?.date_obs ?? h?.dateObs ?? null;
  const headerMid = dateObs ? Date.parse(dateObs) + (o.cadenceS * 1000) / 2 : null;
  const naxis = meta ? (JSON.parse(meta.naxis_json) as number[]) : (h?.naxis ?? null);
  const ctype1 = meta?.ctype1 ?? h?.axes[0]?.ctype ?? null;
  const ctype2 = meta?.ctype2 ?? h?.axes[1]?.ctype ?? null;
  const cdelt2 = meta?.cdelt2 ?? h?.axes[1]?.cdelt ?? null;
  const pixel =
    cdelt2 !== null ? Math.abs(cdelt2) * 3600 : (meta?.cellsize_arcsec ?? h?.cellsizeArcsec ?? null);
  return {
    imageId: img.id,
    path,
    registeredPath: img.path,
    msPath: img.ms_path,
    registeredAtMs: img.created_at * 1000,
    file,
    obsMidMs:
      group?.mid_jd != null
        ? unixMsFromJd(group.mid_jd)
        : headerMid !== null && Number.isFinite(headerMid)
          ? headerMid
          : null,
    decDeg: group?.dec_rad != null ? (group.dec_rad * 180) / Math.PI : (meta?.dec_deg ?? h?.decDeg ?? null),
    raDeg: meta?.ra_deg ?? h?.raDeg ?? null,
    hasMetadata: meta !== undefined,
    noiseJy: meta?.mad_std ?? null,
    naxis,
    ctype: ctype1 !== null && ctype2 !== null ? [ctype1, ctype2] : null,
    frame: header?.frame ?? null,
    pixelArcsec: pixel,
    freqHz: meta?.freq_hz ?? h?.freqHz ?? null,
  };
}
