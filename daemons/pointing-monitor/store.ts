// SQL for the pointing monitor's tables (migrations/state/0003_pointing.up.sql), in small named functions.
// Call the writers inside db.write(). Instants are REAL Unix seconds in *_unix columns.
import type { Calibrator, TransitModel } from '../../lib/astro/index.js';
import { isoUtc, mjdFromUnixMs } from '../../lib/astro/index.js';
import { cachedStatement as stmt, type Connection } from '../../lib/db/index.js';
import type { StableSegment } from './detector.js';
import type { ScheduledTransit } from './schedule.js';

// ---- calibrators ---------------------------------------------------------------------------------------

interface CalRow {
  name: string;
  alt_names: string;
  ra_deg: number;
  dec_deg: number;
  flux_jy_20cm: number | null;
  catalog: Calibrator['catalog'];
}

const toCal = (r: CalRow): Calibrator => ({
  name: r.name,
  raDeg: r.ra_deg,
  decDeg: r.dec_deg,
  fluxJy: r.flux_jy_20cm,
  altNames: JSON.parse(r.alt_names) as string[],
  catalog: r.catalog,
});

export function listCalibrators(conn: Connection): Calibrator[] {
  const sql =
    'SELECT name, alt_names, ra_deg, dec_deg, flux_jy_20cm, catalog FROM calibrators WHERE active = 1 ORDER BY ra_deg';
  return (stmt(conn, sql).all() as CalRow[]).map(toCal);
}

/** Angular separation in degrees. */
function sepDeg(a: Calibrator, b: Calibrator): number {
  const r = Math.PI / 180;
  const c =
    Math.sin(a.decDeg * r) * Math.sin(b.decDeg * r) +
    Math.cos(a.decDeg * r) * Math.cos(b.decDeg * r) * Math.cos((a.raDeg - b.raDeg) * r);
  return Math.acos(Math.min(1, Math.max(-1, c))) / r;
}

/**
 * Insert or update calibrators by name. An entry within 36″ of a calibrator of another name (the same
 * source under a second name, as 3C286/J1331+3030 was listed twice in the original) is skipped.
 * Returns how many rows were written and how many were skipped as duplicates.
 */
export function upsertCalibrators(
  conn: Connection,
  cals: readonly Calibrator[],
  nowMs: number,
): { written: number; duplicates: number } {
  const existing = listCalibrators(conn);
  const upsert = stmt(
    conn,
    `INSERT INTO calibrators (name, alt_names, ra_deg, dec_deg, flux_jy_20cm, catalog, updated_unix)
     VALUES (@name, @alt, @ra, @dec, @flux, @catalog, @now)
     ON CONFLICT (name) DO UPDATE SET alt_names = excluded.alt_names, ra_deg = excluded.ra_deg,
       dec_deg = excluded.dec_deg, flux_jy_20cm = excluded.flux_jy_20cm, catalog = excluded.catalog,
       active = 1, updated_unix = excluded.updated_unix`,
  );
  let written = 0;
  let duplicates = 0;
  for (const c of cals) {
    if (existing.some((e) => e.name !== c.name && sepDeg(e, c) < 0.01)) {
      duplicates++;
      continue;
    }
    upsert.run({
      name: c.name,
      alt: JSON.stringify(c.altNames),
      ra: c.raDeg,
      dec: c.decDeg,
      flux: c.fluxJy,
      catalog: c.catalog,
      now: nowMs / 1000,
    });
    existing.push(c);
    written++;
  }
  return { written, duplicates };
}

// ---- observations --------------------------------------------------------------------------------------

export interface ObservationRow {
  groupId: string;
  sourcePath: string;
  startUnix: number;
  midUnix: number;
  endUnix: number;
  midMjd: number;
  decDeg: number;
  haDeg: number | null;
  raAppDeg: number | null;
  lstHours: number;
}

/** Returns false when the group was already recorded (a re-read must not feed the detector twice). */
export function insertObservation(
  conn: Connection,
  o: ObservationRow,
  nowMs: number,
  reader: string,
): boolean {
  const info = stmt(
    conn,
    `INSERT INTO pointing_observations (group_id, source_path, start_unix, mid_unix, end_unix, mid_mjd, dec_deg,
       ha_deg, ra_app_deg, lst_hours, read_unix, reader)
     VALUES (@groupId, @sourcePath, @startUnix, @midUnix, @endUnix, @midMjd, @decDeg, @haDeg, @raAppDeg, @lstHours, @now, @reader)
     ON CONFLICT (group_id) DO NOTHING`,
  ).run({ ...o, now: nowMs / 1000, reader });
  return info.changes > 0;
}

export function hasObservation(conn: Connection, groupId: string): boolean {
  return stmt(conn, 'SELECT 1 FROM pointing_observations WHERE group_id = ?').get(groupId) !== undefined;
}

export function observationsAfter(
  conn: Connection,
  afterUnix: number,
): { groupId: string; midUnix: number; decDeg: number }[] {
  return stmt(
    conn,
    'SELECT group_id AS groupId, mid_unix AS midUnix, dec_deg AS decDeg FROM pointing_observations WHERE mid_unix > ? ORDER BY mid_unix',
  ).all(afterUnix) as { groupId: string; midUnix: number; decDeg: number }[];
}

export function latestObservation(conn: Connection): ObservationRow | undefined {
  return stmt(
    conn,
    `SELECT group_id AS groupId, source_path AS sourcePath, start_unix AS startUnix, mid_unix AS midUnix,
       end_unix AS endUnix, mid_mjd AS midMjd, dec_deg AS decDeg, ha_deg AS haDeg, ra_app_deg AS raAppDeg,
       lst_hours AS lstHours FROM pointing_observations ORDER BY mid_unix DESC LIMIT 1`,
  ).get() as ObservationRow | undefined;
}

// ---- segments and changes ------------------------------------------------------------------------------

export interface SegmentRow extends StableSegment {
  id: number;
}

export function currentSegment(conn: Connection): SegmentRow | undefined {
  return stmt(
    conn,
    `SELECT id, dec_deg AS decDeg, first_group_id AS firstGroupId, last_group_id AS lastGroupId,
       start_unix AS startUnix, end_unix AS endUnix, n_groups AS nGroups
     FROM pointing_segments WHERE status = 'current'`,
  ).get() as SegmentRow | undefined;
}

export function insertSegment(conn: Connection, s: StableSegment): number {
  const info = stmt(
    conn,
    `INSERT INTO pointing_segments (dec_deg, start_unix, end_unix, n_groups, first_group_id, last_group_id, status)
     VALUES (@decDeg, @startUnix, @endUnix, @nGroups, @firstGroupId, @lastGroupId, 'current')`,
  ).run(s);
  return Number(info.lastInsertRowid);
}

export function updateSegment(conn: Connection, id: number, s: StableSegment): void {
  stmt(
    conn,
    `UPDATE pointing_segments SET end_unix = @endUnix, n_groups = @nGroups, last_group_id = @lastGroupId WHERE id = @id`,
  ).run({ ...s, id });
}

export function closeSegment(conn: Connection, id: number, endUnix: number): void {
  stmt(conn, `UPDATE pointing_segments SET status = 'closed', end_unix = ? WHERE id = ?`).run(endUnix, id);
}

export interface ChangeRow {
  detectedUnix: number;
  oldDecDeg: number;
  newDecDeg: number;
  deltaDeg: number;
  firstGroupId: string;
  firstMidUnix: number;
  confirmGroups: number;
  segmentIdOld: number;
  segmentIdNew: number;
  candidates: unknown[];
}

export function insertChange(conn: Connection, c: ChangeRow): number {
  const info = stmt(
    conn,
    `INSERT INTO pointing_changes (detected_unix, old_dec_deg, new_dec_deg, delta_deg, first_group_id, first_mid_unix,
       confirm_groups, segment_id_old, segment_id_new, calibrator_candidates)
     VALUES (@detectedUnix, @oldDecDeg, @newDecDeg, @deltaDeg, @firstGroupId, @firstMidUnix, @confirmGroups,
       @segmentIdOld, @segmentIdNew, @cands)`,
  ).run({ ...c, cands: JSON.stringify(c.candidates) });
  return Number(info.lastInsertRowid);
}

// ---- transits ------------------------------------------------------------------------------------------

/**
 * Upsert one transit: a row with the same (calibrator, model) within 600 s is updated (keeping its data
 * match and emitted markers), otherwise a row is inserted. Returns 'inserted' or 'updated'.
 */
export function upsertTransit(
  conn: Connection,
  t: ScheduledTransit,
  pointingDecDeg: number | null,
  nowMs: number,
): 'inserted' | 'updated' {
  const unix = t.transitMs / 1000;
  const found = stmt(
    conn,
    'SELECT id FROM calibrator_transits WHERE calibrator_name = ? AND model = ? AND abs(transit_unix - ?) < 600 LIMIT 1',
  ).get(t.name, t.model, unix) as { id: number } | undefined;
  const p = {
    name: t.name,
    model: t.model,
    unix,
    mjd: mjdFromUnixMs(t.transitMs),
    iso: isoUtc(t.transitMs),
    lst: t.lstHours,
    el: t.elevationDeg,
    sep: t.decSepDeg,
    pb: t.pbResponse,
    pdec: pointingDecDeg,
    ws: t.windowStartMs / 1000,
    we: t.windowEndMs / 1000,
    dut1: t.dut1S,
    now: nowMs / 1000,
  };
  if (found) {
    stmt(
      conn,
      `UPDATE calibrator_transits SET transit_unix = @unix, transit_mjd = @mjd, transit_iso = @iso, lst_hours = @lst,
         elevation_deg = @el, dec_sep_deg = @sep, pb_response = @pb, pointing_dec_deg = @pdec,
         window_start_unix = @ws, window_end_unix = @we, dut1_s = @dut1, updated_unix = @now WHERE id = @id`,
    ).run({ ...p, id: found.id });
    return 'updated';
  }
  stmt(
    conn,
    `INSERT INTO calibrator_transits (calibrator_name, model, transit_unix, transit_mjd, transit_iso, lst_hours,
       elevation_deg, dec_sep_deg, pb_response, pointing_dec_deg, window_start_unix, window_end_unix, dut1_s,
       computed_unix, updated_unix)
     VALUES (@name, @model, @unix, @mjd, @iso, @lst, @el, @sep, @pb, @pdec, @ws, @we, @dut1, @now, @now)`,
  ).run(p);
  return 'inserted';
}

export type EmittedColumn = 'open_emitted_unix' | 'peak_emitted_unix' | 'close_emitted_unix';

export function markEmitted(
  conn: Connection,
  name: string,
  model: TransitModel,
  transitMs: number,
  col: EmittedColumn,
  nowMs: number,
): void {
  stmt(
    conn,
    `UPDATE calibrator_transits SET ${col} = ? WHERE calibrator_name = ? AND model = ? AND abs(transit_unix - ?) < 600`,
  ).run(nowMs / 1000, name, model, transitMs / 1000);
}

export function isEmitted(
  conn: Connection,
  name: string,
  model: TransitModel,
  transitMs: number,
  col: EmittedColumn,
): boolean {
  const r = stmt(
    conn,
    `SELECT ${col} AS v FROM calibrator_transits WHERE calibrator_name = ? AND model = ? AND abs(transit_unix - ?) < 600 LIMIT 1`,
  ).get(name, model, transitMs / 1000) as { v: number | null } | undefined;
  return r?.v != null;
}

/**
 * Match past transits to data: a group whose [start, end] covers the transit, otherwise the nearest group
 * within matchWindowS, at a declination within decTolDeg of the calibrator. Returns rows newly matched.
 */
export function matchTransitsToData(
  conn: Connection,
  fromUnix: number,
  toUnix: number,
  matchWindowS: number,
  decTolDeg: number,
): number {
  const rows = stmt(
    conn,
    `SELECT t.id, t.transit_unix AS tu, c.dec_deg AS cdec FROM calibrator_transits t JOIN calibrators c ON c.name = t.calibrator_name
     WHERE t.has_data = 0 AND t.transit_unix BETWEEN ? AND ?`,
  ).all(fromUnix, toUnix) as { id: number; tu: number; cdec: number }[];
  const near = stmt(
    conn,
    `SELECT group_id AS g, mid_unix AS mid, (start_unix <= @tu AND end_unix >= @tu) AS covers FROM pointing_observations
     WHERE mid_unix BETWEEN @tu - @w AND @tu + @w AND abs(dec_deg - @cdec) <= @tol
     ORDER BY covers DESC, abs(mid_unix - @tu) LIMIT 1`,
  );
  const set = stmt(
    conn,
    'UPDATE calibrator_transits SET has_data = 1, group_id = ?, delta_sec = ? WHERE id = ?',
  );
  let n = 0;
  for (const r of rows) {
    const m = near.get({ tu: r.tu, w: matchWindowS, cdec: r.cdec, tol: decTolDeg }) as
      { g: string; mid: number } | undefined;
    if (!m) continue;
    set.run(m.g, m.mid - r.tu, r.id);
    n++;
  }
  return n;
}

export function transitDataMatch(
  conn: Connection,
  name: string,
  model: TransitModel,
  transitMs: number,
): { hasData: boolean; groupId: string | null; deltaSec: number | null } {
  const r = stmt(
    conn,
    `SELECT has_data, group_id, delta_sec FROM calibrator_transits WHERE calibrator_name = ? AND model = ? AND abs(transit_unix - ?) < 600 LIMIT 1`,
  ).get(name, model, transitMs / 1000) as
    { has_data: number; group_id: string | null; delta_sec: number | null } | undefined;
  return { hasData: r?.has_data === 1, groupId: r?.group_id ?? null, deltaSec: r?.delta_sec ?? null };
}

export interface StoredTransit {
  name: string;
  model: TransitModel;
  transitUnix: number;
  windowStartUnix: number | null;
  windowEndUnix: number | null;
  /** The calibrator's declination and catalogue flux (null for a calibrator no longer in the table). */
  calDecDeg: number | null;
  fluxJy: number | null;
  hasData: boolean;
}

/**
 * Stored transits of one model whose window (or, without one, the transit) ends at or after fromUnix, in time
 * order: the schedule as last written, for readers outside the daemon (the status page).
 */
export function transitsEndingAfter(
  conn: Connection,
  model: TransitModel,
  fromUnix: number,
  limit: number,
): StoredTransit[] {
  const rows = stmt(
    conn,
    `SELECT t.calibrator_name AS name, t.model, t.transit_unix AS transitUnix, t.window_start_unix AS windowStartUnix,
       t.window_end_unix AS windowEndUnix, c.dec_deg AS calDecDeg, c.flux_jy_20cm AS fluxJy, t.has_data AS hasData
     FROM calibrator_transits t LEFT JOIN calibrators c ON c.name = t.calibrator_name
     WHERE t.model = ? AND t.transit_unix >= ? - 3600 AND coalesce(t.window_end_unix, t.transit_unix) >= ?
     ORDER BY t.transit_unix LIMIT CAST(? AS INTEGER)`,
  ).all(model, fromUnix, fromUnix, limit) as (Omit<StoredTransit, 'hasData'> & { hasData: number })[];
  return rows.map((r) => ({ ...r, hasData: r.hasData === 1 }));
}

export function pruneTransits(conn: Connection, beforeUnix: number): number {
  return stmt(conn, 'DELETE FROM calibrator_transits WHERE transit_unix < ?').run(beforeUnix).changes;
}

// ---- status --------------------------------------------------------------------------------------------

export function writeStatus(conn: Connection, snapshot: unknown, nowMs: number): void {
  stmt(
    conn,
    `INSERT INTO pointing_status (id, updated_unix, snapshot) VALUES (1, ?, ?)
     ON CONFLICT (id) DO UPDATE SET updated_unix = excluded.updated_unix, snapshot = excluded.snapshot`,
  ).run(nowMs / 1000, JSON.stringify(snapshot));
}

export function readStatus(conn: Connection): { updatedUnix: number; snapshot: unknown } | undefined {
  const r = stmt(conn, 'SELECT updated_unix, snapshot FROM pointing_status WHERE id = 1').get() as
    { updated_unix: number; snapshot: string } | undefined;
  return r ? { updatedUnix: r.updated_unix, snapshot: JSON.parse(r.snapshot) } : undefined;
}
