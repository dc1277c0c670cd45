// SQL for the thumbnails and fits_metadata tables (state DB). Every function takes the connection of the
// caller's db.write/db.read so state changes, job operations and events commit together.
import { cachedStatement as stmt, type Connection } from '../../lib/db/index.js';
import { gradeDynamicRange } from '../../lib/fits/stats.js';
import type { RenderOutput } from './render-task.js';

export type ThumbStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface ThumbRow {
  id: number;
  source_kind: string;
  source_id: number | null;
  fits_path: string;
  variant: string;
  status: ThumbStatus;
  attempts: number;
  job_id: number | null;
  src_fingerprint: string | null;
  png_path: string | null;
  width: number | null;
  height: number | null;
  vmin: number | null;
  vmax: number | null;
  error_code: string | null;
  error_message: string | null;
  qa_grade: string | null;
  params_json: string | null;
  rendered_at: number | null;
  updated_at: number;
  created_at: number;
}

/** Insert a pending row for (path, variant) or refresh source_id (images.id changes on re-imaging). */
export function upsertSource(
  conn: Connection,
  fitsPath: string,
  variant: string,
  sourceId: number | null,
  now: number,
): void {
  stmt(
    conn,
    `INSERT INTO thumbnails (source_kind, source_id, fits_path, variant, status, created_at, updated_at)
     VALUES ('image', ?, ?, ?, 'pending', ?, ?)
     ON CONFLICT (fits_path, variant) DO UPDATE SET source_id = excluded.source_id
     WHERE thumbnails.source_id IS NOT excluded.source_id`,
  ).run(sourceId, fitsPath, variant, now, now);
}

/** Pending rows with no queued or running job: candidates for the settle check and enqueue. */
export function unscheduled(conn: Connection, limit: number): ThumbRow[] {
  return stmt(
    conn,
    `SELECT t.* FROM thumbnails t
     WHERE t.status = 'pending' AND t.source_kind <> 'mosaic'
       AND (t.job_id IS NULL OR NOT EXISTS (
         SELECT 1 FROM jobs j WHERE j.id = t.job_id AND j.state IN ('queued', 'running')))
     ORDER BY t.updated_at DESC LIMIT ?`,
  ).all(limit) as ThumbRow[];
}

export function getRow(conn: Connection, id: number): ThumbRow | undefined {
  return stmt(conn, 'SELECT * FROM thumbnails WHERE id = ?').get(id) as ThumbRow | undefined;
}

export function attachJob(
  conn: Connection,
  id: number,
  jobId: number,
  fp: { key: string; size: number; mtimeNs: string; ino: number } | null,
  now: number,
): void {
  stmt(
    conn,
    `UPDATE thumbnails SET job_id = ?, src_fingerprint = ?, src_size = ?, src_mtime_ns = ?, src_ino = ?,
       updated_at = ? WHERE id = ?`,
  ).run(jobId, fp?.key ?? null, fp?.size ?? null, fp?.mtimeNs ?? null, fp?.ino ?? null, now, id);
}

export function markRunning(conn: Connection, id: number, attempt: number, now: number): void {
  stmt(conn, `UPDATE thumbnails SET status = 'running', attempts = ?, updated_at = ? WHERE id = ?`).run(
    attempt,
    now,
    id,
  );
}

/** Back to pending with no job: discovery re-checks settle and enqueues for the current fingerprint. */
export function requeue(
  conn: Connection,
  id: number,
  code: string | null,
  message: string | null,
  now: number,
): void {
  stmt(
    conn,
    `UPDATE thumbnails SET status = 'pending', job_id = NULL, error_code = ?, error_message = ?, updated_at = ?
     WHERE id = ?`,
  ).run(code, message, now, id);
}

/**
 * Record a failure on the row. With detachJob the row also loses its job (pending with no job: discovery
 * enqueues a fresh one), for a render handed back without spending an attempt (a full output disk), where
 * `attempt` is the number of attempts really spent.
 */
export function markFailure(
  conn: Connection,
  id: number,
  status: 'pending' | 'failed' | 'skipped',
  attempt: number,
  code: string,
  message: string,
  now: number,
  opts: { detachJob?: boolean } = {},
): void {
  stmt(
    conn,
    `UPDATE thumbnails SET status = ?, attempts = ?, error_code = ?, error_message = ?, updated_at = ?,
       job_id = CASE WHEN ? THEN NULL ELSE job_id END WHERE id = ?`,
  ).run(status, attempt, code, message.slice(0, 2000), now, opts.detachJob ? 1 : 0, id);
}

export function markDone(
  conn: Connection,
  row: ThumbRow,
  out: RenderOutput,
  params: object,
  attempt: number,
  now: number,
): void {
  const grade = gradeDynamicRange(out.stats?.dynamicRange);
  stmt(
    conn,
    `UPDATE thumbnails SET status = 'done', attempts = ?, src_fingerprint = ?, src_size = ?, src_mtime_ns = ?,
       src_ino = ?, plane_index = ?, nx = ?, ny = ?, bitpix = ?, png_path = ?, png_bytes = ?, width = ?, height = ?,
       interval = ?, vmin = ?, vmax = ?, stretch = ?, colormap = ?, params_json = ?, n_finite = ?, qa_grade = ?,
       render_ms = ?, error_code = NULL, error_message = NULL, rendered_at = ?, updated_at = ?
     WHERE id = ?`,
  ).run(
    attempt,
    out.fingerprint.key,
    out.fingerprint.size,
    out.fingerprint.mtimeNs,
    out.fingerprint.ino,
    out.plane,
    out.nx,
    out.ny,
    out.bitpix,
    out.pngPath,
    out.pngBytes,
    out.width,
    out.height,
    (params as { interval?: string }).interval ?? null,
    out.vmin,
    out.vmax,
    (params as { stretch?: string }).stretch ?? null,
    (params as { colormap?: string }).colormap ?? null,
    JSON.stringify(params),
    out.nFinite,
    grade,
    out.timings.total,
    now,
    now,
    row.id,
  );
}

export function upsertMetadata(conn: Connection, path: string, out: RenderOutput, now: number): void {
  const m = out.metadata;
  const s = out.stats;
  const a1 = m.axes[0];
  const a2 = m.axes[1];
  stmt(
    conn,
    `INSERT OR REPLACE INTO fits_metadata (path, fingerprint, size, mtime_ns, ino, hdu, bitpix, naxis_json, bunit,
       object, telescope, date_obs, date_obs_raw, ra_deg, dec_deg, glon_deg, glat_deg, ctype1, ctype2, cdelt1,
       cdelt2, crpix1, crpix2, freq_hz, bandwidth_hz, restfreq_hz, bmaj_deg, bmin_deg, bpa_deg, beam_source,
       cellsize_arcsec, plane_index, n_finite, n_nonfinite, data_min, data_max, data_sum, data_mean, data_std,
       median, mad_std, peak_abs, dynamic_range, qa_grade, wsc_json, parsed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
       ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    path,
    out.fingerprint.key,
    out.fingerprint.size,
    out.fingerprint.mtimeNs,
    out.fingerprint.ino,
    out.hdu,
    out.bitpix,
    JSON.stringify(m.naxis),
    m.bunit,
    m.object,
    m.telescope,
    m.dateObs,
    m.dateObsRaw,
    m.raDeg,
    m.decDeg,
    m.glonDeg,
    m.glatDeg,
    a1?.ctype ?? null,
    a2?.ctype ?? null,
    a1?.cdelt ?? null,
    a2?.cdelt ?? null,
    a1?.crpix ?? null,
    a2?.crpix ?? null,
    m.freqHz,
    m.bandwidthHz,
    m.restfreqHz,
    m.bmajDeg,
    m.bminDeg,
    m.bpaDeg,
    m.beamSource,
    m.cellsizeArcsec,
    out.plane,
    s?.nFinite ?? null,
    s?.nNonFinite ?? null,
    s?.min ?? null,
    s?.max ?? null,
    s?.sum ?? null,
    s?.mean ?? null,
    s?.std ?? null,
    s?.median ?? null,
    s?.madStd ?? null,
    s?.peakAbs ?? null,
    s?.dynamicRange ?? null,
    gradeDynamicRange(s?.dynamicRange),
    JSON.stringify(m.wsc),
    now,
  );
}

/**
 * Rows to re-stat in the reconcile pass (keyset by id). Mosaic thumbnails are not: they belong to their
 * mosaic's grade (daemons/thumbnail-worker/mosaic-job.ts), and a mosaic file is never rewritten in place.
 */
export function finishedAfter(conn: Connection, afterId: number, limit: number): ThumbRow[] {
  return stmt(
    conn,
    `SELECT * FROM thumbnails WHERE id > ? AND status IN ('done', 'failed', 'skipped') AND source_kind <> 'mosaic'
     ORDER BY id LIMIT ?`,
  ).all(afterId, limit) as ThumbRow[];
}

/** Done rows after an id, for the restyle sweep (keyset by id). */
export function doneAfter(conn: Connection, afterId: number, limit: number): ThumbRow[] {
  return stmt(conn, `SELECT * FROM thumbnails WHERE id > ? AND status = 'done' ORDER BY id LIMIT ?`).all(
    afterId,
    limit,
  ) as ThumbRow[];
}

/** Rows waiting to replace an existing PNG (restyles and changed sources): the restyle sweep's backlog. */
export function pendingRestyles(conn: Connection): number {
  return (
    stmt(
      conn,
      `SELECT count(*) AS n FROM thumbnails WHERE status IN ('pending', 'running') AND png_path IS NOT NULL`,
    ).get() as { n: number }
  ).n;
}

export function markMissing(conn: Connection, id: number, now: number): void {
  stmt(
    conn,
    `UPDATE thumbnails SET status = 'failed', error_code = 'SOURCE_MISSING',
       error_message = 'the source file is gone; the last thumbnail is kept', updated_at = ?
     WHERE id = ? AND NOT (status = 'failed' AND error_code = 'SOURCE_MISSING')`,
  ).run(now, id);
}

/**
 * Rows left `running` by a render whose job has ended without them: the worker died on the last attempt
 * (the claim buried the job) or the job was cancelled. Every handler path moves the row out of `running`
 * before its job finishes, so these rows would otherwise stay `running` for ever. Returns rows moved.
 */
export function hasOrphanedRunning(conn: Connection): boolean {
  return (
    stmt(
      conn,
      `SELECT 1 FROM thumbnails WHERE status = 'running' AND NOT EXISTS (
         SELECT 1 FROM jobs j WHERE j.id = thumbnails.job_id AND j.state IN ('queued', 'running')) LIMIT 1`,
    ).get() !== undefined
  );
}

export function failOrphanedRunning(conn: Connection, now: number): number {
  return stmt(
    conn,
    `UPDATE thumbnails SET status = 'failed', error_code = 'WORKER_LOST',
       error_message = 'the render job ended (' || coalesce((SELECT j.state FROM jobs j WHERE j.id = thumbnails.job_id), 'gone')
         || ') while the row was running: the worker died or the job was cancelled', updated_at = ?
     WHERE status = 'running' AND NOT EXISTS (
       SELECT 1 FROM jobs j WHERE j.id = thumbnails.job_id AND j.state IN ('queued', 'running'))`,
  ).run(now).changes;
}

/** The newest rendered thumbnails (by last update, which a re-render moves), for the status page. */
export function newestDone(conn: Connection, limit: number): ThumbRow[] {
  return stmt(
    conn,
    `SELECT * FROM thumbnails WHERE status = 'done' ORDER BY updated_at DESC, id DESC LIMIT CAST(? AS INTEGER)`,
  ).all(limit) as ThumbRow[];
}

/** The stored fits_metadata row of a source path (header metadata and plane statistics), if any. */
export function storedMetadata(conn: Connection, path: string): Record<string, unknown> | undefined {
  return stmt(conn, 'SELECT * FROM fits_metadata WHERE path = ?').get(path) as
    Record<string, unknown> | undefined;
}
