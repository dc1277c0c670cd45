// SQL of mosaic grading (state DB): the `built` mosaics to grade, what a grade needs to know (plan, inputs,
// calibrators), and the grade itself (mosaic_qa, mosaics, mosaic_plans, the `mosaic` thumbnails row). Every
// function takes the caller's connection so the grade commits in one transaction with its job's end.
import { cachedStatement as stmt, type Connection } from '../../lib/db/index.js';
import { medianInPlace } from '../../lib/fits/sorted.js';
import type { QaReason, QaStatus, ReferenceSource } from '../../lib/mosaic/qa/index.js';
import type { QaGrade } from '../../lib/fits/stats.js';
import type { MosaicOutput } from './mosaic-task.js';

/** The thumbnails row variant of a mosaic's PNG (here, not in mosaic-task.ts: an idle worker loads no renderer). */
export const MOSAIC_VARIANT = 'mosaic';

export interface MosaicRow {
  id: number;
  plan_id: number;
  path: string;
  weights_path: string;
  tier: 'quicklook' | 'science' | 'deep';
  state: string;
  effective_noise_jy: number | null;
}

export interface PlanInfo {
  name: string;
  strip_dec_deg: number;
}

/**
 * Built mosaics without an unfinished grading job (dedupe key `mosaic:<id>` in `queue`), oldest first (keyset
 * by id): a poll that finds nothing new reads, and writes nothing.
 */
export function ungradedMosaics(
  conn: Connection,
  queue: string,
  afterId: number,
  limit: number,
): MosaicRow[] {
  return stmt(
    conn,
    `SELECT id, plan_id, path, weights_path, tier, state, effective_noise_jy FROM mosaics m
     WHERE state = 'built' AND id > ? AND NOT EXISTS (
       SELECT 1 FROM jobs j WHERE j.queue = ? AND j.dedupe_key = 'mosaic:' || m.id AND j.state IN ('queued', 'running'))
     ORDER BY id LIMIT ?`,
  ).all(afterId, queue, limit) as MosaicRow[];
}

export function getMosaic(conn: Connection, id: number): MosaicRow | undefined {
  return stmt(
    conn,
    'SELECT id, plan_id, path, weights_path, tier, state, effective_noise_jy FROM mosaics WHERE id = ?',
  ).get(id) as MosaicRow | undefined;
}

export function planOf(conn: Connection, planId: number): PlanInfo | undefined {
  return stmt(conn, 'SELECT name, strip_dec_deg FROM mosaic_plans WHERE id = ?').get(planId) as
    PlanInfo | undefined;
}

/**
 * The planned inputs' pointings, each with the smaller side of its image in degrees when fits_metadata knows
 * it (null otherwise): the footprint the mosaic should cover.
 */
export function plannedPointings(
  conn: Connection,
  planId: number,
): { raDeg: number; decDeg: number; sideDeg: number | null }[] {
  return stmt(
    conn,
    `SELECT i.ra_deg AS raDeg, i.dec_deg AS decDeg,
       min(abs(f.cdelt1) * json_extract(f.naxis_json, '$[0]'), abs(f.cdelt2) * json_extract(f.naxis_json, '$[1]'))
         AS sideDeg
     FROM mosaic_plan_inputs i LEFT JOIN fits_metadata f ON f.path = i.path
     WHERE i.plan_id = ? ORDER BY i.ord`,
  ).all(planId) as { raDeg: number; decDeg: number; sideDeg: number | null }[];
}

/** Median beam major axis (deg) of the planned inputs, from their fits_metadata; null when none has one. */
export function inputBeamDeg(conn: Connection, planId: number): number | null {
  const rows = stmt(
    conn,
    `SELECT f.bmaj_deg AS b FROM mosaic_plan_inputs i JOIN fits_metadata f ON f.path = i.path
     WHERE i.plan_id = ? AND f.bmaj_deg > 0`,
  ).all(planId) as { b: number }[];
  return rows.length === 0 ? null : medianInPlace(Float64Array.from(rows.map((r) => r.b)), 'float64');
}

/** Active calibrators with a 20 cm flux (the pointing monitor's table); spectral index unknown → 0. */
export function calibratorReferences(conn: Connection): ReferenceSource[] {
  return stmt(
    conn,
    `SELECT name, ra_deg AS raDeg, dec_deg AS decDeg, flux_jy_20cm AS s14Jy, 0 AS alpha FROM calibrators
     WHERE active = 1 AND flux_jy_20cm > 0 ORDER BY name`,
  ).all() as ReferenceSource[];
}

export interface Grade {
  status: QaStatus;
  grade: QaGrade;
  reasons: QaReason[];
  metrics: Partial<MosaicOutput['qa']['metrics']> | null;
}

/** One mosaic_qa row; returns its id. */
export function insertQa(
  conn: Connection,
  mosaicId: number,
  g: Grade,
  measuredBy: string,
  now: number,
): number {
  const m = g.metrics ?? {};
  const info = stmt(
    conn,
    `INSERT INTO mosaic_qa (mosaic_id, noise_jy, noise_expected_jy, noise_ratio, peak_jy, dynamic_range,
       coverage_fraction, nan_fraction, banding, n_ref, astrometry_offset_arcsec_median, flux_ratio_median, grade,
       status, reasons_json, measured_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    mosaicId,
    m.noiseJy ?? null,
    m.noiseExpectedJy ?? null,
    m.noiseRatio ?? null,
    m.peakJy ?? null,
    m.dynamicRange ?? null,
    m.coverageFraction ?? null,
    m.nanFraction ?? null,
    m.banding ?? null,
    m.nRef ?? 0,
    m.offsetArcsecMedian ?? null,
    m.fluxRatioMedian ?? null,
    g.grade,
    g.status,
    JSON.stringify(g.reasons),
    measuredBy,
    now,
  );
  return Number(info.lastInsertRowid);
}

/** The mosaic and its plan become `graded`, with the grade mirrored on the mosaic row. */
export function markGraded(
  conn: Connection,
  m: MosaicRow,
  g: Grade,
  thumbnailPath: string | null,
  now: number,
): void {
  stmt(
    conn,
    `UPDATE mosaics SET state = 'graded', qa_status = ?, qa_grade = ?, thumbnail_path = coalesce(?, thumbnail_path),
       updated_at = ? WHERE id = ?`,
  ).run(g.status, g.grade, thumbnailPath, now, m.id);
  stmt(
    conn,
    `UPDATE mosaic_plans SET state = 'graded', updated_at = ? WHERE id = ? AND state IN ('built', 'graded')`,
  ).run(now, m.plan_id);
}

/** The mosaic's row in `thumbnails` (source_kind mosaic, variant mosaic), inserted or brought up to date. */
export function upsertMosaicThumbnail(
  conn: Connection,
  m: MosaicRow,
  out: MosaicOutput,
  grade: QaGrade,
  attempt: number,
  now: number,
): number {
  const p = out.png!;
  const fp = out.fingerprint;
  const params = JSON.stringify({
    look: p.look,
    interval: 'zscale',
    contrast: 0.2,
    stretch: 'linear',
    colormap: 'inferno',
  });
  const row = stmt(
    conn,
    `INSERT INTO thumbnails (source_kind, source_id, fits_path, variant, status, attempts, src_size, src_mtime_ns,
       src_ino, src_fingerprint, plane_index, png_path, png_bytes, width, height, interval, vmin, vmax, stretch,
       colormap, params_json, n_finite, qa_grade, render_ms, rendered_at, created_at, updated_at)
     VALUES ('mosaic', @id, @path, @variant, 'done', @attempt, @size, @mtimeNs, @ino, @key, 0, @png, @bytes, @width,
       @height, 'zscale', @vmin, @vmax, 'linear', 'inferno', @params, @nFinite, @grade, @ms, @now, @now, @now)
     ON CONFLICT (fits_path, variant) DO UPDATE SET source_kind = 'mosaic', source_id = excluded.source_id,
       status = 'done', attempts = excluded.attempts, src_size = excluded.src_size,
       src_mtime_ns = excluded.src_mtime_ns, src_ino = excluded.src_ino, src_fingerprint = excluded.src_fingerprint,
       png_path = excluded.png_path, png_bytes = excluded.png_bytes, width = excluded.width, height = excluded.height,
       vmin = excluded.vmin, vmax = excluded.vmax, params_json = excluded.params_json, n_finite = excluded.n_finite,
       qa_grade = excluded.qa_grade, render_ms = excluded.render_ms, error_code = NULL, error_message = NULL,
       rendered_at = excluded.rendered_at, updated_at = excluded.updated_at
     RETURNING id`,
  ).get({
    id: m.id,
    path: m.path,
    variant: MOSAIC_VARIANT,
    attempt,
    size: fp.size,
    mtimeNs: fp.mtimeNs,
    ino: fp.ino,
    key: fp.key,
    png: p.path,
    bytes: p.bytes,
    width: p.width,
    height: p.height,
    vmin: p.vmin,
    vmax: p.vmax,
    params,
    nFinite: p.nFinite,
    grade,
    ms: p.renderMs,
    now,
  }) as { id: number };
  return row.id;
}

/** The PNG the thumbnails row points at now (to delete once a newer one replaced it). */
export function currentMosaicPng(conn: Connection, path: string): string | null {
  const r = stmt(conn, 'SELECT png_path FROM thumbnails WHERE fits_path = ? AND variant = ?').get(
    path,
    MOSAIC_VARIANT,
  ) as { png_path: string | null } | undefined;
  return r?.png_path ?? null;
}
