// Read models of the pointing monitor shared by its /api routes and the CLI (`contimg pointing status|history`),
// one JSON shape per entity with camelCase keys (docs/cli.md "JSON output"). Transits are in views.ts.
import type { Connection } from '../../lib/db/index.js';
import { readStatus } from './store.js';
import type { StatusSnapshot } from './status.js';

/** The last status snapshot the daemon wrote, or null before its first (GET /api/pointing/status). */
export function pointingStatus(conn: Connection): StatusSnapshot | null {
  return (readStatus(conn)?.snapshot as StatusSnapshot | undefined) ?? null;
}

export interface SegmentView {
  id: number;
  decDeg: number;
  startUnix: number;
  endUnix: number | null;
  nGroups: number;
  firstGroupId: string;
  lastGroupId: string;
  status: 'current' | 'closed';
}

/** Pointing segments that reach back to sinceUnix (and the current one), oldest first. */
export function listSegments(conn: Connection, sinceUnix: number): SegmentView[] {
  return conn
    .prepare(
      `SELECT id, dec_deg AS decDeg, start_unix AS startUnix, end_unix AS endUnix, n_groups AS nGroups,
         first_group_id AS firstGroupId, last_group_id AS lastGroupId, status
       FROM pointing_segments WHERE coalesce(end_unix, start_unix) >= ? OR status = 'current' ORDER BY start_unix`,
    )
    .all(sinceUnix) as SegmentView[];
}

export interface ChangeView {
  id: number;
  detectedUnix: number;
  oldDecDeg: number | null;
  newDecDeg: number;
  deltaDeg: number | null;
  firstGroupId: string;
  firstMidUnix: number;
  confirmGroups: number;
  segmentIdOld: number | null;
  segmentIdNew: number | null;
  /** Calibrators usable at the new declination when it was confirmed: {name, decSepDeg, pbResponse, fluxJy}. */
  candidates: unknown[];
}

/** Declination changes detected or starting since sinceUnix, in time order. */
export function listChanges(conn: Connection, sinceUnix: number): ChangeView[] {
  const rows = conn
    .prepare(
      `SELECT id, detected_unix AS detectedUnix, old_dec_deg AS oldDecDeg, new_dec_deg AS newDecDeg,
         delta_deg AS deltaDeg, first_group_id AS firstGroupId, first_mid_unix AS firstMidUnix,
         confirm_groups AS confirmGroups, segment_id_old AS segmentIdOld, segment_id_new AS segmentIdNew,
         calibrator_candidates AS candidates
       FROM pointing_changes WHERE detected_unix >= ? OR first_mid_unix >= ? ORDER BY first_mid_unix`,
    )
    .all(sinceUnix, sinceUnix) as (Omit<ChangeView, 'candidates'> & { candidates: string })[];
  return rows.map((r) => ({ ...r, candidates: JSON.parse(r.candidates) as unknown[] }));
}
