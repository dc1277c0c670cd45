// SQL for converter_attempts: one row per conversion attempt, keyed to the `conversions` job claim it ran
// under (job id + lease token), with the child's identity (pid, process group, start ticks) that recovery
// needs to find an orphan before the job's lease is taken over.
import type { Connection } from '../../lib/db/index.js';
import { UNFINISHED } from '../../lib/queue/index.js';
import type { Outcome } from './rules.js';
import { st } from './stmt.js';

export interface AttemptRow {
  id: number;
  group_ref: number;
  attempt: number;
  job_id: number;
  lease_token: number;
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
  /** What runs the attempt (migration 0008): a local child under its supervisor, or a Slurm batch job. */
  executor: ExecutorKind;
  /** Slurm only: the job's name, written in the dispatch transaction (the job can be found by it). */
  slurm_job_name: string | null;
  /** Slurm only: the job id once sbatch answered. */
  slurm_job_id: string | null;
  /** Slurm only: the last state squeue/sacct reported (PENDING, RUNNING, COMPLETED, …). */
  slurm_state: string | null;
}

export type ExecutorKind = 'local' | 'slurm';

/** The columns an executor adds to the attempt row in the dispatch transaction. */
export interface ExecutorColumns {
  executor: ExecutorKind;
  slurm_job_name: string | null;
}

export function insertAttempt(
  conn: Connection,
  a: {
    group_ref: number;
    attempt: number;
    job_id: number;
    lease_token: number;
    manifest_path: string;
    output_path: string;
  } & Partial<ExecutorColumns>,
  now: number,
): number {
  const info = st(
    conn,
    `INSERT INTO converter_attempts (group_ref, attempt, job_id, lease_token, started_at, manifest_path, output_path,
       executor, slurm_job_name)
     VALUES (@group_ref, @attempt, @job_id, @lease_token, @now, @manifest_path, @output_path, @executor, @slurm_job_name)`,
  ).run({ executor: 'local', slurm_job_name: null, ...a, now });
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
    `UPDATE converter_attempts SET pid = @pid, pgid = @pgid, pid_start_ticks = @pid_start_ticks, spawned_at = @now
     WHERE id = @id AND ended_at IS NULL`,
  ).run({
    ...p,
    id,
    now,
  });
}

/** sbatch answered: the job id (and its first state) on the open attempt; spawned_at = submission time. */
export function recordSlurmJob(
  conn: Connection,
  id: number,
  jobId: string,
  state: string,
  now: number,
): boolean {
  return (
    st(
      conn,
      `UPDATE converter_attempts SET slurm_job_id = ?, slurm_state = ?, spawned_at = coalesce(spawned_at, ?)
       WHERE id = ? AND ended_at IS NULL`,
    ).run(jobId, state, now, id).changes === 1
  );
}

/** The last Slurm state seen (also after the attempt closed: the final state is kept). */
export function recordSlurmState(conn: Connection, id: number, state: string): void {
  st(conn, 'UPDATE converter_attempts SET slurm_state = ? WHERE id = ?').run(state, id);
}

/** The newest attempt of each group in `refs`: what runs it (or ran it last), for the group summaries. */
export function latestAttempts(
  conn: Connection,
  refs: readonly number[],
): Map<number, Pick<AttemptRow, 'group_ref' | 'executor' | 'slurm_job_id' | 'slurm_state'>> {
  const out = new Map<number, Pick<AttemptRow, 'group_ref' | 'executor' | 'slurm_job_id' | 'slurm_state'>>();
  const stmt = st(
    conn,
    `SELECT group_ref, executor, slurm_job_id, slurm_state FROM converter_attempts
     WHERE group_ref = ? ORDER BY attempt DESC LIMIT 1`,
  );
  for (const ref of refs) {
    const row = stmt.get(ref) as
      Pick<AttemptRow, 'group_ref' | 'executor' | 'slurm_job_id' | 'slurm_state'> | undefined;
    if (row) out.set(ref, row);
  }
  return out;
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

/** An open attempt with its job's current lease (NULLs when the job row is gone). */
export interface OpenAttempt extends AttemptRow {
  job_state: string | null;
  job_token: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  job_attempts: number | null;
  job_queue: string | null;
}

export function openAttempts(conn: Connection): OpenAttempt[] {
  return st(
    conn,
    `SELECT a.*, j.state AS job_state, j.lease_token AS job_token, j.lease_owner, j.lease_expires_at,
       j.attempts AS job_attempts, j.queue AS job_queue
     FROM converter_attempts a LEFT JOIN jobs j ON j.id = a.job_id
     WHERE a.ended_at IS NULL ORDER BY a.id`,
  ).all() as OpenAttempt[];
}

/**
 * Is there a running job of this queue whose lease has expired (a stalled or dead holder) and whose attempt
 * is still open (its converter may be alive)? Only recovery may take those over.
 */
export function expiredRunning(conn: Connection, queue: string, now: number): boolean {
  return (
    st(
      conn,
      `SELECT 1 FROM jobs j WHERE j.queue = ? AND j.state = 'running' AND ${UNFINISHED} AND j.lease_expires_at < ?
         AND EXISTS (SELECT 1 FROM converter_attempts a WHERE a.job_id = j.id AND a.ended_at IS NULL) LIMIT 1`,
    ).get(queue, now) !== undefined
  );
}

export function attemptById(conn: Connection, id: number): AttemptRow | undefined {
  return st(conn, 'SELECT * FROM converter_attempts WHERE id = ?').get(id) as AttemptRow | undefined;
}

export function openAttemptOf(conn: Connection, groupRef: number): AttemptRow | undefined {
  return st(conn, 'SELECT * FROM converter_attempts WHERE group_ref = ? AND ended_at IS NULL').get(
    groupRef,
  ) as AttemptRow | undefined;
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
