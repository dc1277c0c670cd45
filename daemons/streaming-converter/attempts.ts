// SQL for converter_attempts: one row per conversion attempt, with the lease and the child's identity
// (pid, process group, start ticks) that startup recovery needs to find an orphan.
import type { Connection } from '../../lib/db/index.js';
import type { Outcome } from './rules.js';
import { st } from './stmt.js';

export interface AttemptRow {
  id: number;
  group_ref: number;
  attempt: number;
  owner: string;
  lease_expires_at: number;
  started_at: number;
  spawned_at: number | null;
  ended_at: number | null;
  pid: number | null;
  pgid: number | null;
  pid_start_ticks: number | null;
  exit_code: number | null;
  signal: string | null;
  outcome: Outcome | null;
  stdout_tail: string | null;
  stderr_tail: string | null;
  result_json: string | null;
  manifest_path: string | null;
  output_path: string | null;
  error: string | null;
}

export function insertAttempt(
  conn: Connection,
  a: {
    group_ref: number;
    attempt: number;
    owner: string;
    lease_expires_at: number;
    manifest_path: string;
    output_path: string;
  },
  now: number,
): number {
  const info = st(
    conn,
    `INSERT INTO converter_attempts (group_ref, attempt, owner, lease_expires_at, started_at, manifest_path, output_path)
     VALUES (@group_ref, @attempt, @owner, @lease_expires_at, @now, @manifest_path, @output_path)`,
  ).run({ ...a, now });
  return Number(info.lastInsertRowid);
}

export function recordSpawn(
  conn: Connection,
  id: number,
  p: { pid: number; pgid: number; pid_start_ticks: number | null },
  now: number,
): void {
  st(
    conn,
    'UPDATE converter_attempts SET pid = @pid, pgid = @pgid, pid_start_ticks = @pid_start_ticks, spawned_at = @now WHERE id = @id',
  ).run({
    ...p,
    id,
    now,
  });
}

export function renewAttemptLease(conn: Connection, id: number, owner: string, expiresAt: number): boolean {
  return (
    st(
      conn,
      'UPDATE converter_attempts SET lease_expires_at = ? WHERE id = ? AND owner = ? AND ended_at IS NULL',
    ).run(expiresAt, id, owner).changes === 1
  );
}

export function closeAttempt(
  conn: Connection,
  id: number,
  r: {
    outcome: Outcome;
    exit_code: number | null;
    signal: string | null;
    stdout_tail: string | null;
    stderr_tail: string | null;
    result_json: string | null;
    error: string | null;
  },
  now: number,
): boolean {
  return (
    st(
      conn,
      `UPDATE converter_attempts SET ended_at = @now, outcome = @outcome, exit_code = @exit_code, signal = @signal,
         stdout_tail = @stdout_tail, stderr_tail = @stderr_tail, result_json = @result_json, error = @error
       WHERE id = @id AND ended_at IS NULL`,
    ).run({ ...r, id, now }).changes === 1
  );
}

/** Attempt rows are numbered per group; an aborted attempt keeps its row but not its budget. */
export function nextAttemptNo(conn: Connection, groupRef: number): number {
  return (
    st(conn, 'SELECT coalesce(max(attempt), 0) + 1 AS n FROM converter_attempts WHERE group_ref = ?').get(
      groupRef,
    ) as { n: number }
  ).n;
}

export function openAttempts(conn: Connection): AttemptRow[] {
  return st(
    conn,
    'SELECT * FROM converter_attempts WHERE ended_at IS NULL ORDER BY id',
  ).all() as AttemptRow[];
}

export function attemptsOf(conn: Connection, groupRef: number): AttemptRow[] {
  return st(conn, 'SELECT * FROM converter_attempts WHERE group_ref = ? ORDER BY attempt').all(
    groupRef,
  ) as AttemptRow[];
}

export function crashesSince(conn: Connection, since: number): number {
  return (
    st(conn, "SELECT COUNT(*) AS n FROM converter_attempts WHERE outcome = 'crashed' AND ended_at >= ?").get(
      since,
    ) as {
      n: number;
    }
  ).n;
}
