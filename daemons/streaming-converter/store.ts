// SQL for the converter's three tables (migrations/state/0002_converter.up.sql), prepared once per connection.
// Functions take the connection of the caller's db.write()/db.read() so a state change, its event and its
// alert commit together. Group state changes are compare-and-set: they return whether the row moved.
import type { Connection } from '../../lib/db/index.js';
import type { FileState, GroupState } from './rules.js';
import { st } from './stmt.js';

export interface FileRow {
  path: string;
  name: string;
  ts_name: string;
  ts_ms: number;
  subband: number;
  size: number;
  mtime_ms: number;
  inode: number;
  dev: number;
  state: FileState;
  reason: string | null;
  stable_looks: number;
  stable_since: number;
  first_seen_at: number;
  last_checked_at: number;
  rechecks: number;
  group_ref: number | null;
  start_jd: number | null;
  end_jd: number | null;
  dec_rad: number | null;
  ha_rad: number | null;
  nfreqs: number | null;
  ntimes: number | null;
  freq_min_hz: number | null;
  freq_max_hz: number | null;
  validated_at: number | null;
}

export interface GroupRow {
  id: number;
  group_id: string;
  anchor_ms: number;
  state: GroupState;
  expected: number;
  n_valid: number;
  partial: number;
  first_seen_at: number;
  last_file_at: number;
  ready_at: number | null;
  dispatched_at: number | null;
  finished_at: number | null;
  attempts: number;
  job_id: number | null;
  output_path: string | null;
  error_code: string | null;
  error: string | null;
  dec_rad: number | null;
  mid_jd: number | null;
  updated_at: number;
}

// ---- files ----

export function getFile(conn: Connection, path: string): FileRow | undefined {
  return st(conn, 'SELECT * FROM hdf5_files WHERE path = ?').get(path) as FileRow | undefined;
}

export interface FileIdentityRow {
  path: string;
  state: FileState;
  size: number;
  mtime_ms: number;
  inode: number;
}

/** Paths per knownPaths() statement: a fixed arity, so one prepared statement serves every slice. */
export const KNOWN_PATHS_BATCH = 500;
const KNOWN_PATHS_SQL = `SELECT path FROM hdf5_files WHERE path IN (${Array(KNOWN_PATHS_BATCH).fill('?').join(', ')})`;

/**
 * Which of `paths` have a row (any state): lookups in the primary key's index alone, KNOWN_PATHS_BATCH per
 * statement, for the listing side of the reconcile (nothing of the table is held in memory). Reading the
 * row's state as well would cost a random table lookup per name (10× the time on a cold cache): a `gone` row
 * whose file came back is found by the verify side instead.
 */
export function knownPaths(conn: Connection, paths: readonly string[]): Set<string> {
  const out = new Set<string>();
  const stmt = st(conn, KNOWN_PATHS_SQL).pluck();
  for (let i = 0; i < paths.length; i += KNOWN_PATHS_BATCH) {
    const args: (string | null)[] = paths.slice(i, i + KNOWN_PATHS_BATCH);
    while (args.length < KNOWN_PATHS_BATCH) args.push(null);
    for (const p of stmt.all(args) as string[]) out.add(p);
  }
  return out;
}

/**
 * Up to `limit` rows with after < path < below in path order: one keyset page of the rows under a directory
 * (below = the prefix with its '/' replaced by '0', the next byte), for the reconcile's verify side.
 */
export function identitiesBetween(
  conn: Connection,
  after: string,
  below: string,
  limit: number,
): FileIdentityRow[] {
  return st(
    conn,
    `SELECT path, state, size, mtime_ms, inode FROM hdf5_files
     WHERE path > ? AND path < ? ORDER BY path LIMIT ?`,
  ).all(after, below, limit) as FileIdentityRow[];
}

/** Groups whose inputs may still matter to a conversion: their valid files are stat'ed on every quick pass. */
export const IN_FLIGHT_GROUP_STATES = ['collecting', 'ready', 'converting', 'retry_wait'] as const;

/**
 * Valid files of groups in flight. CROSS JOIN fixes the order (groups by their state index, then each
 * group's files by group_ref) and `+f.state` keeps SQLite off hdf5_files_state, which would walk every valid
 * file ever seen: O(files in flight), not O(history).
 */
export function inFlightFiles(conn: Connection): FileIdentityRow[] {
  return st(
    conn,
    `SELECT f.path, f.state, f.size, f.mtime_ms, f.inode
     FROM converter_groups g CROSS JOIN hdf5_files f ON f.group_ref = g.id
     WHERE g.state IN (${IN_FLIGHT_GROUP_STATES.map((x) => `'${x}'`).join(', ')}) AND +f.state = 'valid'`,
  ).all() as FileIdentityRow[];
}

export function insertFile(
  conn: Connection,
  f: Pick<FileRow, 'path' | 'name' | 'ts_name' | 'ts_ms' | 'subband' | 'size' | 'mtime_ms' | 'inode' | 'dev'>,
  now: number,
): void {
  st(
    conn,
    `INSERT INTO hdf5_files (path, name, ts_name, ts_ms, subband, size, mtime_ms, inode, dev, state, stable_looks,
       stable_since, first_seen_at, last_checked_at)
     VALUES (@path, @name, @ts_name, @ts_ms, @subband, @size, @mtime_ms, @inode, @dev, 'settling', 1, @now, @now, @now)
     ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, inode = excluded.inode,
       dev = excluded.dev, state = 'settling', reason = NULL, stable_looks = 1, stable_since = @now,
       last_checked_at = @now, rechecks = 0, group_ref = NULL, validated_at = NULL`,
  ).run({ ...f, now });
}

/** Identity changed: start settling again (drops group membership). */
export function resettle(
  conn: Connection,
  path: string,
  id: { size: number; mtime_ms: number; inode: number },
  now: number,
): void {
  st(
    conn,
    `UPDATE hdf5_files SET size = @size, mtime_ms = @mtime_ms, inode = @inode, state = 'settling', reason = NULL,
       stable_looks = 1, stable_since = @now, last_checked_at = @now, group_ref = NULL, validated_at = NULL
     WHERE path = @path`,
  ).run({ path, ...id, now });
}

export function sawUnchanged(conn: Connection, path: string, now: number): void {
  st(conn, 'UPDATE hdf5_files SET stable_looks = stable_looks + 1, last_checked_at = ? WHERE path = ?').run(
    now,
    path,
  );
}

export function setFileState(
  conn: Connection,
  path: string,
  state: FileState,
  reason: string | null,
  now: number,
  groupRef?: number | null,
): void {
  if (groupRef === undefined)
    st(conn, 'UPDATE hdf5_files SET state = ?, reason = ?, last_checked_at = ? WHERE path = ?').run(
      state,
      reason,
      now,
      path,
    );
  else
    st(
      conn,
      'UPDATE hdf5_files SET state = ?, reason = ?, last_checked_at = ?, group_ref = ? WHERE path = ?',
    ).run(state, reason, now, groupRef, path);
}

export function markRecheck(conn: Connection, path: string, reason: string, now: number): void {
  st(
    conn,
    'UPDATE hdf5_files SET reason = ?, rechecks = rechecks + 1, last_checked_at = ? WHERE path = ?',
  ).run(reason, now, path);
}

export interface HeaderFields {
  start_jd: number;
  end_jd: number;
  dec_rad: number | null;
  ha_rad: number | null;
  nfreqs: number;
  ntimes: number;
  freq_min_hz: number;
  freq_max_hz: number;
}

export function markValid(
  conn: Connection,
  path: string,
  groupRef: number,
  h: HeaderFields,
  now: number,
): void {
  st(
    conn,
    `UPDATE hdf5_files SET state = 'valid', reason = NULL, group_ref = @groupRef, start_jd = @start_jd, end_jd = @end_jd,
       dec_rad = @dec_rad, ha_rad = @ha_rad, nfreqs = @nfreqs, ntimes = @ntimes, freq_min_hz = @freq_min_hz,
       freq_max_hz = @freq_max_hz, validated_at = @now, last_checked_at = @now
     WHERE path = @path`,
  ).run({ ...h, path, groupRef, now });
}

export function slotHolder(conn: Connection, groupRef: number, subband: number): string | undefined {
  const r = st(
    conn,
    "SELECT path FROM hdf5_files WHERE group_ref = ? AND subband = ? AND state = 'valid'",
  ).get(groupRef, subband) as { path: string } | undefined;
  return r?.path;
}

export function validMembers(conn: Connection, groupRef: number): FileRow[] {
  return st(conn, "SELECT * FROM hdf5_files WHERE group_ref = ? AND state = 'valid' ORDER BY subband").all(
    groupRef,
  ) as FileRow[];
}

export function groupFiles(conn: Connection, groupRef: number): FileRow[] {
  return st(conn, 'SELECT * FROM hdf5_files WHERE group_ref = ? ORDER BY subband, ts_ms').all(
    groupRef,
  ) as FileRow[];
}

export function settlingFiles(conn: Connection): FileRow[] {
  return st(conn, "SELECT * FROM hdf5_files WHERE state = 'settling'").all() as FileRow[];
}

export function unreadableDue(conn: Connection, before: number, maxRechecks: number): FileRow[] {
  return st(
    conn,
    "SELECT * FROM hdf5_files WHERE state = 'invalid' AND reason = 'unreadable' AND last_checked_at <= ? AND rechecks < ?",
  ).all(before, maxRechecks) as FileRow[];
}

/** Files in one state, counted on the state index: O(rows in that state), so never ask for 'valid'. */
export function countFiles(conn: Connection, state: FileState): number {
  return (st(conn, 'SELECT COUNT(*) AS n FROM hdf5_files WHERE state = ?').get(state) as { n: number }).n;
}

/** An index lookup (hdf5_files_validated). */
export function lastValidatedAt(conn: Connection): number | null {
  return (st(conn, 'SELECT max(validated_at) AS t FROM hdf5_files').get() as { t: number | null }).t;
}

// ---- groups ----

export function groupsNear(conn: Connection, tsMs: number, toleranceMs: number): GroupRow[] {
  return st(conn, 'SELECT * FROM converter_groups WHERE anchor_ms BETWEEN ? AND ?').all(
    tsMs - toleranceMs,
    tsMs + toleranceMs,
  ) as GroupRow[];
}

export function insertGroup(
  conn: Connection,
  groupId: string,
  anchorMs: number,
  expected: number,
  now: number,
): number {
  const info = st(
    conn,
    `INSERT INTO converter_groups (group_id, anchor_ms, state, expected, first_seen_at, last_file_at, updated_at)
     VALUES (?, ?, 'collecting', ?, ?, ?, ?)`,
  ).run(groupId, anchorMs, expected, now, now, now);
  return Number(info.lastInsertRowid);
}

export function getGroup(conn: Connection, ref: number): GroupRow | undefined {
  return st(conn, 'SELECT * FROM converter_groups WHERE id = ?').get(ref) as GroupRow | undefined;
}

export function getGroupById(conn: Connection, groupId: string): GroupRow | undefined {
  return st(conn, 'SELECT * FROM converter_groups WHERE group_id = ?').get(groupId) as GroupRow | undefined;
}

/** A group with its conversions job's next run time (queued jobs only): the read model's view. */
export interface GroupView extends GroupRow {
  next_attempt_at: number | null;
}

const VIEW = `SELECT g.*, CASE WHEN j.state = 'queued' THEN j.run_at END AS next_attempt_at
  FROM converter_groups g LEFT JOIN jobs j ON j.id = g.job_id`;

export function getGroupView(conn: Connection, ref: number): GroupView | undefined {
  return st(conn, `${VIEW} WHERE g.id = ?`).get(ref) as GroupView | undefined;
}

/** Newest first; limit and offset come validated from lib/paging (never a negative LIMIT). */
export function listGroups(conn: Connection, state?: string, limit = 1000, offset = 0): GroupView[] {
  return state
    ? (st(conn, `${VIEW} WHERE g.state = ? ORDER BY g.anchor_ms DESC LIMIT ? OFFSET ?`).all(
        state,
        limit,
        offset,
      ) as GroupView[])
    : (st(conn, `${VIEW} ORDER BY g.anchor_ms DESC LIMIT ? OFFSET ?`).all(limit, offset) as GroupView[]);
}

export function groupsInState(conn: Connection, state: GroupState): GroupRow[] {
  return st(conn, 'SELECT * FROM converter_groups WHERE state = ? ORDER BY anchor_ms').all(
    state,
  ) as GroupRow[];
}

/** Groups in the given states, counted on the (state, anchor) index: O(those groups). */
export function countGroups(conn: Connection, states: readonly GroupState[]): number {
  let n = 0;
  for (const state of states)
    n += (st(conn, 'SELECT COUNT(*) AS n FROM converter_groups WHERE state = ?').get(state) as { n: number })
      .n;
  return n;
}

/** Every group by state: walks all groups (O(history)); for gauges refreshed every few seconds only. */
export function groupStateCounts(conn: Connection): Record<string, number> {
  const rows = st(conn, 'SELECT state, COUNT(*) AS n FROM converter_groups GROUP BY state').all() as {
    state: string;
    n: number;
  }[];
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** Compare-and-set: move the group from `from` to `to` and set extra columns; false if it was not in `from`. */
export function casGroup(
  conn: Connection,
  ref: number,
  from: GroupState,
  to: GroupState,
  now: number,
  set: Partial<Omit<GroupRow, 'id' | 'state' | 'updated_at'>> = {},
): boolean {
  const cols = Object.keys(set);
  const extra = cols.map((c) => `, ${c} = @${c}`).join('');
  const sql = `UPDATE converter_groups SET state = @to, updated_at = @now${extra} WHERE id = @ref AND state = @from`;
  return st(conn, sql).run({ ...set, to, from, ref, now }).changes === 1;
}

/** The group's conversions job (enqueued in the same transaction). */
export function linkJob(conn: Connection, ref: number, jobId: number): void {
  st(conn, 'UPDATE converter_groups SET job_id = ? WHERE id = ?').run(jobId, ref);
}

export function updateGroupSummary(
  conn: Connection,
  ref: number,
  s: {
    group_id: string;
    n_valid: number;
    dec_rad: number | null;
    mid_jd: number | null;
    last_file_at: number;
  },
  now: number,
): void {
  st(
    conn,
    `UPDATE converter_groups SET group_id = @group_id, n_valid = @n_valid, dec_rad = @dec_rad, mid_jd = @mid_jd,
       last_file_at = max(last_file_at, @last_file_at), updated_at = @now WHERE id = @ref`,
  ).run({ ...s, ref, now });
}

export function groupIdTaken(conn: Connection, groupId: string, exceptRef: number): boolean {
  return (
    st(conn, 'SELECT 1 FROM converter_groups WHERE group_id = ? AND id != ?').get(groupId, exceptRef) !==
    undefined
  );
}

export * from './attempts.js';
export * from './archive-store.js';
