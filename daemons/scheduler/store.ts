// SQL for the scheduler's tables (migrations/state/0005_scheduler.up.sql): job_runs, health_checks,
// health_history. Writers run inside the caller's db.write/db.writeAsync; times are Unix ms.
import { cachedStatement as stmt, type Connection } from '../../lib/db/index.js';
import type { JobName } from '../../lib/config/sections/scheduler.js';

export const RUN_RESULTS = ['running', 'ok', 'error', 'timeout', 'skipped_overlap', 'crashed'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];
export type FinalResult = Exclude<RunResult, 'running'>;
export type Trigger = 'cron' | 'catchup' | 'manual';

export interface JobRunRow {
  id: number;
  job: JobName;
  trigger: Trigger;
  scheduledFor: number | null;
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  result: RunResult;
  summary: unknown;
  error: string | null;
  owner: string;
  leaseToken: number | null;
}

interface RawRun {
  id: number;
  job: JobName;
  trigger: Trigger;
  scheduled_for: number | null;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  result: RunResult;
  summary: string | null;
  error: string | null;
  owner: string;
  lease_token: number | null;
}

const RUN_COLS =
  'id, job, trigger, scheduled_for, started_at, finished_at, duration_ms, result, summary, error, owner, lease_token';

function toRun(r: RawRun): JobRunRow {
  return {
    id: r.id,
    job: r.job,
    trigger: r.trigger,
    scheduledFor: r.scheduled_for,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
    result: r.result,
    summary: r.summary === null ? null : (JSON.parse(r.summary) as unknown),
    error: r.error,
    owner: r.owner,
    leaseToken: r.lease_token,
  };
}

export interface NewRun {
  job: JobName;
  trigger: Trigger;
  scheduledFor: number | null;
  startedAt: number;
  owner: string;
  leaseToken: number | null;
}

/**
 * Insert a run as 'running'. For a cron trigger a second row for the same (job, slot) is ignored and null is
 * returned: that slot has already been taken (by this or another scheduler).
 */
export function insertRun(conn: Connection, r: NewRun): number | null {
  const info = stmt(
    conn,
    `INSERT INTO job_runs (job, trigger, scheduled_for, started_at, result, owner, lease_token)
     VALUES (@job, @trigger, @scheduledFor, @startedAt, 'running', @owner, @leaseToken)
     ON CONFLICT DO NOTHING`,
  ).run(r);
  return info.changes === 0 ? null : Number(info.lastInsertRowid);
}

/** A finished row in one statement (a skipped trigger). Null when the slot already has a row. */
export function insertFinishedRun(
  conn: Connection,
  r: NewRun & { result: FinalResult; error?: string | null; summary?: unknown },
): number | null {
  const info = stmt(
    conn,
    `INSERT INTO job_runs (job, trigger, scheduled_for, started_at, finished_at, duration_ms, result, summary,
       error, owner, lease_token)
     VALUES (@job, @trigger, @scheduledFor, @startedAt, @startedAt, 0, @result, @summary, @error, @owner, @leaseToken)
     ON CONFLICT DO NOTHING`,
  ).run({
    ...r,
    error: r.error ?? null,
    summary: r.summary === undefined ? null : JSON.stringify(r.summary),
  });
  return info.changes === 0 ? null : Number(info.lastInsertRowid);
}

/** Finish a running row; false when it is no longer running (timed out, or marked crashed meanwhile). */
export function finishRun(
  conn: Connection,
  id: number,
  f: { result: FinalResult; finishedAt: number; summary?: unknown; error?: string | null },
): boolean {
  return (
    stmt(
      conn,
      `UPDATE job_runs SET result = @result, finished_at = @finishedAt, duration_ms = @finishedAt - started_at,
         summary = @summary, error = @error
       WHERE id = @id AND result = 'running'`,
    ).run({
      id,
      result: f.result,
      finishedAt: f.finishedAt,
      summary: f.summary === undefined ? null : JSON.stringify(f.summary),
      error: f.error ?? null,
    }).changes === 1
  );
}

export function getRun(conn: Connection, id: number): JobRunRow | undefined {
  const r = stmt(conn, `SELECT ${RUN_COLS} FROM job_runs WHERE id = ?`).get(id) as RawRun | undefined;
  return r && toRun(r);
}

/** Runs still marked running (crash recovery inspects their owners). */
export function runningRuns(conn: Connection): JobRunRow[] {
  return (
    stmt(conn, `SELECT ${RUN_COLS} FROM job_runs WHERE result = 'running' ORDER BY id`).all() as RawRun[]
  ).map(toRun);
}

/** Newest first; optionally one job, before an id (keyset paging). */
export function listRuns(
  conn: Connection,
  f: { job?: string; limit?: number; beforeId?: number } = {},
): JobRunRow[] {
  return (
    stmt(
      conn,
      `SELECT ${RUN_COLS} FROM job_runs
       WHERE (@job IS NULL OR job = @job) AND (@before IS NULL OR id < @before)
       ORDER BY started_at DESC, id DESC LIMIT @limit`,
    ).all({ job: f.job ?? null, before: f.beforeId ?? null, limit: f.limit ?? 50 }) as RawRun[]
  ).map(toRun);
}

/** The newest finished runs of one job that count for failure streaks (skipped triggers do not). */
export function recentFinishedRuns(conn: Connection, job: string, limit: number): JobRunRow[] {
  return (
    stmt(
      conn,
      `SELECT ${RUN_COLS} FROM job_runs
       WHERE job = ? AND result NOT IN ('running', 'skipped_overlap')
       ORDER BY started_at DESC, id DESC LIMIT ?`,
    ).all(job, limit) as RawRun[]
  ).map(toRun);
}

export function lastRun(conn: Connection, job: string): JobRunRow | undefined {
  const r = stmt(
    conn,
    `SELECT ${RUN_COLS} FROM job_runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT 1`,
  ).get(job) as RawRun | undefined;
  return r && toRun(r);
}

/** Start time of the newest successful run (the slot a catch-up compares with). */
export function lastSuccessAt(conn: Connection, job: string): number | null {
  const r = stmt(conn, `SELECT max(started_at) AS t FROM job_runs WHERE job = ? AND result = 'ok'`).get(
    job,
  ) as { t: number | null };
  return r.t;
}

// ---- health ------------------------------------------------------------------------------------------

export const HEALTH_STATUSES = ['ok', 'warn', 'crit', 'unknown', 'unavailable'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];
export type LegacyStatus = 'running' | 'stopped' | 'degraded' | 'error' | 'unknown';

/** The alert a target holds firing. */
export interface HeldAlert {
  alertname: string;
  labels: Record<string, string>;
  severity: 'critical' | 'warning' | 'info';
}

export interface HealthCheckRow {
  targetId: string;
  kind: string;
  name: string;
  status: HealthStatus;
  legacy: LegacyStatus;
  critical: boolean;
  detail: string;
  value: number | null;
  data: Record<string, unknown>;
  durationMs: number | null;
  checkedAt: number;
  statusSince: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  alert: HeldAlert | null;
}

interface RawCheck {
  target_id: string;
  kind: string;
  name: string;
  status: HealthStatus;
  legacy: LegacyStatus;
  critical: number;
  detail: string;
  value: number | null;
  data: string;
  duration_ms: number | null;
  checked_at: number;
  status_since: number;
  consecutive_failures: number;
  consecutive_successes: number;
  alert: string | null;
}

function toCheck(r: RawCheck): HealthCheckRow {
  return {
    targetId: r.target_id,
    kind: r.kind,
    name: r.name,
    status: r.status,
    legacy: r.legacy,
    critical: r.critical === 1,
    detail: r.detail,
    value: r.value,
    data: JSON.parse(r.data) as Record<string, unknown>,
    durationMs: r.duration_ms,
    checkedAt: r.checked_at,
    statusSince: r.status_since,
    consecutiveFailures: r.consecutive_failures,
    consecutiveSuccesses: r.consecutive_successes,
    alert: r.alert === null ? null : (JSON.parse(r.alert) as HeldAlert),
  };
}

export function listHealthChecks(conn: Connection): HealthCheckRow[] {
  return (stmt(conn, 'SELECT * FROM health_checks ORDER BY kind, name').all() as RawCheck[]).map(toCheck);
}

export function upsertHealthCheck(conn: Connection, c: HealthCheckRow): void {
  stmt(
    conn,
    `INSERT INTO health_checks (target_id, kind, name, status, legacy, critical, detail, value, data, duration_ms,
       checked_at, status_since, consecutive_failures, consecutive_successes, alert)
     VALUES (@targetId, @kind, @name, @status, @legacy, @critical, @detail, @value, @data, @durationMs, @checkedAt,
       @statusSince, @consecutiveFailures, @consecutiveSuccesses, @alert)
     ON CONFLICT (target_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, status = excluded.status,
       legacy = excluded.legacy, critical = excluded.critical, detail = excluded.detail, value = excluded.value,
       data = excluded.data, duration_ms = excluded.duration_ms, checked_at = excluded.checked_at,
       status_since = excluded.status_since, consecutive_failures = excluded.consecutive_failures,
       consecutive_successes = excluded.consecutive_successes, alert = excluded.alert`,
  ).run({
    ...c,
    critical: c.critical ? 1 : 0,
    data: JSON.stringify(c.data),
    alert: c.alert === null ? null : JSON.stringify(c.alert),
  });
}

export function deleteHealthCheck(conn: Connection, targetId: string): void {
  stmt(conn, 'DELETE FROM health_checks WHERE target_id = ?').run(targetId);
}

export function insertHealthTransition(
  conn: Connection,
  t: { targetId: string; at: number; from: HealthStatus | null; to: HealthStatus; detail: string },
): void {
  stmt(
    conn,
    `INSERT INTO health_history (target_id, at, from_status, to_status, detail)
     VALUES (@targetId, @at, @from, @to, @detail)`,
  ).run(t);
}

export function healthHistory(
  conn: Connection,
  f: { targetId?: string; limit?: number } = {},
): { targetId: string; at: number; from: HealthStatus | null; to: HealthStatus; detail: string }[] {
  return stmt(
    conn,
    `SELECT target_id AS targetId, at, from_status AS "from", to_status AS "to", detail FROM health_history
     WHERE (@t IS NULL OR target_id = @t) ORDER BY at DESC, id DESC LIMIT @limit`,
  ).all({ t: f.targetId ?? null, limit: f.limit ?? 100 }) as {
    targetId: string;
    at: number;
    from: HealthStatus | null;
    to: HealthStatus;
    detail: string;
  }[];
}
