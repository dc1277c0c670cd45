// Read models and operator actions of the thumbnail worker shared by its /api routes and the CLI (`contimg
// thumbnails list|retry`): one JSON shape per entity with camelCase keys (docs/cli.md "JSON output"). The
// SQL stays here, so a column rename changes one place.
import type { Connection } from '../../lib/db/index.js';
import type { FitsMetadata } from '../../lib/fits/metadata.js';
import type { PlaneStats } from '../../lib/fits/stats.js';
import type { ThumbStatus } from './store.js';

/** A thumbnail row (GET /api/thumbnails, `contimg thumbnails list --json`). Times are ms since the epoch. */
export interface ThumbnailView {
  id: number;
  fitsPath: string;
  variant: string;
  status: ThumbStatus;
  attempts: number;
  pngPath: string | null;
  width: number | null;
  height: number | null;
  vmin: number | null;
  vmax: number | null;
  qaGrade: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  updatedAt: number;
}

/** Rows newest first, optionally of one status. */
export function listThumbnails(
  conn: Connection,
  opts: { status?: string | null; limit: number; offset?: number },
): ThumbnailView[] {
  const status = opts.status ?? null;
  return conn
    .prepare(
      `SELECT id, fits_path AS fitsPath, variant, status, attempts, png_path AS pngPath, width, height, vmin, vmax,
         qa_grade AS qaGrade, error_code AS errorCode, error_message AS errorMessage, updated_at AS updatedAt
       FROM thumbnails WHERE (? IS NULL OR status = ?) ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`,
    )
    .all(status, status, opts.limit, opts.offset ?? 0) as ThumbnailView[];
}

/** Failed (or skipped) rows back to pending, attempts reset; the worker renders them again. */
export function retryThumbnails(
  conn: Connection,
  opts: { status: 'failed' | 'skipped'; path?: string },
  now: number,
): { requeued: number } {
  const path = opts.path ?? null;
  const r = conn
    .prepare(
      `UPDATE thumbnails SET status = 'pending', job_id = NULL, attempts = 0, error_code = NULL,
         error_message = NULL, updated_at = ? WHERE status = ? AND (? IS NULL OR fits_path = ?)
         AND source_kind <> 'mosaic'`,
    )
    .run(now, opts.status, path, path);
  return { requeued: r.changes };
}

/** Plane statistics of the last render, named as `contimg fits stats --json` names them. */
export type PlaneStatsView = { [K in Exclude<keyof PlaneStats, 'robustSamples'>]: PlaneStats[K] | null } & {
  plane: number | null;
  qaGrade: string | null;
};

/** The header fields the fits_metadata row keeps, named as `contimg fits header --json` names them. */
type StoredHeader = Pick<
  FitsMetadata,
  | 'bitpix'
  | 'naxis'
  | 'bunit'
  | 'object'
  | 'telescope'
  | 'dateObs'
  | 'dateObsRaw'
  | 'raDeg'
  | 'decDeg'
  | 'glonDeg'
  | 'glatDeg'
  | 'freqHz'
  | 'bandwidthHz'
  | 'restfreqHz'
  | 'bmajDeg'
  | 'bminDeg'
  | 'bpaDeg'
  | 'cellsizeArcsec'
  | 'wsc'
>;

/**
 * GET /api/thumbnails/:id/metadata: the same keys whether the fits_metadata row answered (`source: cache`) or
 * the header was read again because the file changed (`source: header`, `stats` null until the next render).
 * `wsc` is keyed by FITS keyword; the first two axes are flattened as the row stores them.
 */
export interface ThumbnailMetadata extends StoredHeader {
  thumbnailId: number;
  source: 'cache' | 'header';
  path: string;
  fingerprint: string;
  hdu: number;
  ctype1: string | null;
  ctype2: string | null;
  cdelt1: number | null;
  cdelt2: number | null;
  crpix1: number | null;
  crpix2: number | null;
  beamSource: string | null;
  stats: PlaneStatsView | null;
}

type MetadataRow = Record<string, unknown> & { fingerprint: string };

const n = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const s = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** A current fits_metadata row as the API shape. */
export function metadataFromRow(thumbnailId: number, path: string, r: MetadataRow): ThumbnailMetadata {
  return {
    thumbnailId,
    source: 'cache',
    path,
    fingerprint: r.fingerprint,
    hdu: n(r.hdu) ?? 0,
    bitpix: n(r.bitpix),
    naxis: JSON.parse(String(r.naxis_json)) as number[],
    bunit: s(r.bunit),
    object: s(r.object),
    telescope: s(r.telescope),
    dateObs: s(r.date_obs),
    dateObsRaw: s(r.date_obs_raw),
    raDeg: n(r.ra_deg),
    decDeg: n(r.dec_deg),
    glonDeg: n(r.glon_deg),
    glatDeg: n(r.glat_deg),
    ctype1: s(r.ctype1),
    ctype2: s(r.ctype2),
    cdelt1: n(r.cdelt1),
    cdelt2: n(r.cdelt2),
    crpix1: n(r.crpix1),
    crpix2: n(r.crpix2),
    freqHz: n(r.freq_hz),
    bandwidthHz: n(r.bandwidth_hz),
    restfreqHz: n(r.restfreq_hz),
    bmajDeg: n(r.bmaj_deg),
    bminDeg: n(r.bmin_deg),
    bpaDeg: n(r.bpa_deg),
    beamSource: s(r.beam_source),
    cellsizeArcsec: n(r.cellsize_arcsec),
    wsc:
      r.wsc_json === null || r.wsc_json === undefined
        ? {}
        : (JSON.parse(String(r.wsc_json)) as FitsMetadata['wsc']),
    stats: {
      plane: n(r.plane_index),
      nFinite: n(r.n_finite),
      nNonFinite: n(r.n_nonfinite),
      min: n(r.data_min),
      max: n(r.data_max),
      sum: n(r.data_sum),
      mean: n(r.data_mean),
      std: n(r.data_std),
      median: n(r.median),
      madStd: n(r.mad_std),
      peakAbs: n(r.peak_abs),
      dynamicRange: n(r.dynamic_range),
      qaGrade: s(r.qa_grade),
    },
  };
}

/** Header metadata read again (the row is stale or missing) as the API shape. */
export function metadataFromHeader(
  thumbnailId: number,
  path: string,
  fingerprint: string,
  h: FitsMetadata & { hdu: number },
): ThumbnailMetadata {
  const [a1, a2] = h.axes;
  return {
    thumbnailId,
    source: 'header',
    path,
    fingerprint,
    hdu: h.hdu,
    bitpix: h.bitpix,
    naxis: h.naxis,
    bunit: h.bunit,
    object: h.object,
    telescope: h.telescope,
    dateObs: h.dateObs,
    dateObsRaw: h.dateObsRaw,
    raDeg: h.raDeg,
    decDeg: h.decDeg,
    glonDeg: h.glonDeg,
    glatDeg: h.glatDeg,
    ctype1: a1?.ctype ?? null,
    ctype2: a2?.ctype ?? null,
    cdelt1: a1?.cdelt ?? null,
    cdelt2: a2?.cdelt ?? null,
    crpix1: a1?.crpix ?? null,
    crpix2: a2?.crpix ?? null,
    freqHz: h.freqHz,
    bandwidthHz: h.bandwidthHz,
    restfreqHz: h.restfreqHz,
    bmajDeg: h.bmajDeg,
    bminDeg: h.bminDeg,
    bpaDeg: h.bpaDeg,
    beamSource: h.beamSource,
    cellsizeArcsec: h.cellsizeArcsec,
    wsc: h.wsc,
    stats: null,
  };
}
