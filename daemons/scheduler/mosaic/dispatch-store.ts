// The dispatcher's SQL on the mosaic tables (migration 0009): plans and their inputs, attempts (one open per
// plan, enforced by a unique index), the product row. Every function runs inside the caller's transaction.
import { cachedStatement as st, type Connection } from '../../../lib/db/index.js';
import type { MosaicResult } from '../../../lib/mosaic/manifest.js';
import { UNFINISHED } from '../../../lib/queue/index.js';
import type { PlanRow, PlanState } from './plan-row.js';

export { getPlan, planByName, type PlanRow, type PlanState } from './plan-row.js';

export interface PlanInputRow {
  ord: number;
  path: string;
  size: number;
  mtime_ns: string;
  ino: number;
  obs_mid: number;
  ra_deg: number;
  dec_deg: number;
  noise_jy: number;
  kind: 'image' | 'pbcor';
  pb_path: string | null;
}

export interface AttemptRow {
  id: number;
  plan_id: number;
  attempt: number;
  job_id: number;
  lease_token: number;
  executor: 'local' | 'slurm';
  started_at: number;
  spawned_at: number | null;
  ended_at: number | null;
  pid: number | null;
  pgid: number | null;
  pid_start_ticks: number | null;
  outcome: string | null;
  error_code: string | null;
  manifest_path: string | null;
  slurm_job_name: string | null;
  slurm_job_id: string | null;
}

/** An open attempt with its job's lease as it stands. */
export interface OpenAttempt extends AttemptRow {
  job_state: string | null;
  job_token: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  job_attempts: number | null;
}

export function planInputs(conn: Connection, planId: number): PlanInputRow[] {
  return st(conn, 'SELECT * FROM mosaic_plan_inputs WHERE plan_id = ? ORDER BY ord').all(
    planId,
  ) as PlanInputRow[];
}

/** Move a plan from one of `from` to `to`; false when it was in none of them. */
export function casPlan(
  conn: Connection,
  id: number,
  from: readonly PlanState[],
  to: PlanState,
  now: number,
  set: { attempts?: number; error_code?: string | null; error?: string | null; job_id?: number } = {},
): boolean {
  const r = st(
    conn,
    `UPDATE mosaic_plans SET state = @to, updated_at = @now,
       attempts = coalesce(@attempts, attempts),
       error_code = CASE WHEN @setError THEN @error_code ELSE error_code END,
       error = CASE WHEN @setError THEN @error ELSE error END,
       job_id = coalesce(@job_id, job_id)
     WHERE id = @id AND state IN (SELECT value FROM json_each(@from))`,
  ).run({
    id,
    to,
    now,
    from: JSON.stringify(from),
    attempts: set.attempts ?? null,
    setError: 'error_code' in set || 'error' in set ? 1 : 0,
    error_code: set.error_code ?? null,
    error: set.error ?? null,
    job_id: set.job_id ?? null,
  });
  return r.changes === 1;
}

export function openAttemptOf(conn: Connection, planId: number): AttemptRow | undefined {
  return st(conn, 'SELECT * FROM mosaic_attempts WHERE plan_id = ? AND ended_at IS NULL').get(planId) as
    AttemptRow | undefined;
}

export function nextAttemptNo(conn: Connection, planId: number): number {
  const r = st(conn, 'SELECT coalesce(max(attempt), 0) + 1 AS n FROM mosaic_attempts WHERE plan_id = ?').get(
    planId,
  ) as { n: number };
  return r.n;
}

export function insertAttempt(
  conn: Connection,
  a: {
    plan_id: number;
    attempt: number;
    job_id: number;
    lease_token: number;
    executor: 'local' | 'slurm';
    slurm_job_name: string | null;
    manifest_path: string;
  },
  now: number,
): number {
  const r = st(
    conn,
    `INSERT INTO mosaic_attempts (plan_id, attempt, job_id, lease_token, executor, slurm_job_name, manifest_path,
       started_at)
     VALUES (@plan_id, @attempt, @job_id, @lease_token, @executor, @slurm_job_name, @manifest_path, @now)`,
  ).run({ ...a, now });
  return Number(r.lastInsertRowid);
}

export function recordSpawn(
  conn: Connection,
  id: number,
  p: { pid: number; pgid: number; pid_start_ticks: number | null },
  now: number,
): void {
  st(
    conn,
    `UPDATE mosaic_attempts SET pid = @pid, pgid = @pgid, pid_start_ticks = @pid_start_ticks, spawned_at = @now
     WHERE id = @id AND ended_at IS NULL`,
  ).run({ id, ...p, now });
}

export interface AttemptEnd {
  exit_code: number | null;
  signal: string | null;
  outcome: string;
  error_code: string | null;
  error: string | null;
  stderr_tail: string;
  result_json: string | null;
}

/** Close an open attempt; false when it was already closed (someone settled it first). */
export function closeAttempt(conn: Connection, id: number, e: AttemptEnd, now: number): boolean {
  const r = st(
    conn,
    `UPDATE mosaic_attempts SET ended_at = @now, exit_code = @exit_code, signal = @signal, outcome = @outcome,
       error_code = @error_code, error = @error, stderr_tail = @stderr_tail, result_json = @result_json
     WHERE id = @id AND ended_at IS NULL`,
  ).run({ id, ...e, now });
  return r.changes === 1;
}

export function attemptById(conn: Connection, id: number): AttemptRow | undefined {
  return st(conn, 'SELECT * FROM mosaic_attempts WHERE id = ?').get(id) as AttemptRow | undefined;
}

/** How many earlier attempts of the plan ended with this outcome. */
export function countOutcome(conn: Connection, planId: number, outcome: string): number {
  const r = st(conn, 'SELECT count(*) AS n FROM mosaic_attempts WHERE plan_id = ? AND outcome = ?').get(
    planId,
    outcome,
  ) as { n: number };
  return r.n;
}

export function openAttempts(conn: Connection): OpenAttempt[] {
  return st(
    conn,
    `SELECT a.*, j.state AS job_state, j.lease_token AS job_token, j.lease_owner, j.lease_expires_at,
       j.attempts AS job_attempts
     FROM mosaic_attempts a LEFT JOIN jobs j ON j.id = a.job_id
     WHERE a.ended_at IS NULL ORDER BY a.id`,
  ).all() as OpenAttempt[];
}

/** A running mosaic job whose lease expired while its attempt is open: only recovery may take it over. */
export function expiredRunning(conn: Connection, queue: string, now: number): boolean {
  return (
    st(
      conn,
      `SELECT 1 FROM jobs j WHERE j.queue = ? AND j.state = 'running' AND ${UNFINISHED} AND j.lease_expires_at < ?
         AND EXISTS (SELECT 1 FROM mosaic_attempts a WHERE a.job_id = j.id AND a.ended_at IS NULL) LIMIT 1`,
    ).get(queue, now) !== undefined
  );
}

/** The product row, from the builder's result (its outputs and statistics). */
export function insertMosaic(
  conn: Connection,
  plan: PlanRow,
  r: MosaicResult,
  outputs: { fits: string; weights: string },
  buildSeconds: number,
  now: number,
): number {
  const g = r.grid!;
  const res = st(
    conn,
    `INSERT INTO mosaics (plan_id, path, weights_path, tier, nx, ny, pixel_arcsec, center_ra_deg, center_dec_deg,
       frame, n_inputs, n_used, coverage_sq_deg, effective_noise_jy, median_input_noise_jy, build_seconds,
       peak_rss_bytes, builder_version, bytes, state, created_at, updated_at)
     VALUES (@plan_id, @path, @weights_path, @tier, @nx, @ny, @pixel_arcsec, @ra, @dec, @frame, @n_inputs, @n_used,
       @coverage, @eff, @med, @seconds, @rss, @version, @bytes, 'built', @now, @now)`,
  ).run({
    plan_id: plan.id,
    path: outputs.fits,
    weights_path: outputs.weights,
    tier: plan.tier,
    nx: g.nx,
    ny: g.ny,
    pixel_arcsec: g.pixel_arcsec,
    ra: g.center.ra,
    dec: g.center.dec,
    frame: g.frame,
    n_inputs: plan.n_selected,
    n_used: r.n_used,
    coverage: r.stats?.coverage_sq_deg ?? null,
    eff: r.stats?.effective_noise_jy ?? null,
    med: r.stats?.median_input_noise_jy ?? null,
    seconds: r.stats?.seconds ?? buildSeconds,
    rss: r.stats?.peak_rss_bytes ?? null,
    version: r.builder_version,
    bytes: r.outputs?.bytes ?? null,
    now,
  });
  return Number(res.lastInsertRowid);
}

/** Operator pauses and disk pauses in force, with their start. */
export function pauses(conn: Connection): { reason: string; since: number; by: string | null }[] {
  return st(conn, 'SELECT reason, since, by FROM mosaic_dispatch_pauses ORDER BY reason').all() as {
    reason: string;
    since: number;
    by: string | null;
  }[];
}

/** The Slurm job id, once sbatch answered (or the job was found by its name). */
export function recordSlurmJob(
  conn: Connection,
  id: number,
  jobId: string,
  state: string,
  now: number,
): void {
  st(
    conn,
    `UPDATE mosaic_attempts SET slurm_job_id = ?, slurm_state = ?, spawned_at = coalesce(spawned_at, ?)
     WHERE id = ? AND ended_at IS NULL`,
  ).run(jobId, state, now, id);
}

export function recordSlurmState(conn: Connection, id: number, state: string): void {
  st(conn, 'UPDATE mosaic_attempts SET slurm_state = ? WHERE id = ? AND ended_at IS NULL').run(state, id);
}
