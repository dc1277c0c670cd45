// delivery_attempts: one row per attempt, opened when the job is claimed (keyed to the job's lease token) and
// closed with its result. An attempt still open when its job is claimed again (or found at start-up) was cut
// short by a crash or SIGKILL: it is closed as `crashed`. Joins the caller's transaction.
import { cachedStatement, type Connection } from '../../lib/db/index.js';
import type { AttemptResult } from '../../lib/notifiers/index.js';

export const CRASHED_ERROR = 'the dispatcher stopped during this attempt (killed or crashed); it is retried';

export interface AttemptRow {
  id: number;
  notificationId: number;
  attemptNo: number;
  jobId: number;
  leaseToken: number;
  owner: string;
  startedAt: number;
  finishedAt: number | null;
  result: AttemptResult | null;
  httpStatus: number | null;
  smtpCode: number | null;
  retryAfterMs: number | null;
  plainText: boolean;
  error: string | null;
  durationMs: number | null;
}

const q = (conn: Connection, sql: string) => cachedStatement(conn, sql);

export function openAttempt(
  conn: Connection,
  a: {
    notificationId: number;
    attemptNo: number;
    jobId: number;
    leaseToken: number;
    owner: string;
    plainText: boolean;
  },
  now: number,
): number {
  const info = q(
    conn,
    `INSERT INTO delivery_attempts (notification_id, attempt_no, job_id, lease_token, owner, started_at, plain_text)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(a.notificationId, a.attemptNo, a.jobId, a.leaseToken, a.owner, now, a.plainText ? 1 : 0);
  return Number(info.lastInsertRowid);
}

export interface AttemptOutcome {
  result: AttemptResult;
  httpStatus?: number;
  smtpCode?: number;
  retryAfterMs?: number;
  error?: string;
  durationMs: number;
}

export function closeAttempt(conn: Connection, id: number, o: AttemptOutcome, now: number): void {
  q(
    conn,
    `UPDATE delivery_attempts SET finished_at = ?, result = ?, http_status = ?, smtp_code = ?, retry_after_ms = ?,
       error = ?, duration_ms = ? WHERE id = ? AND finished_at IS NULL`,
  ).run(
    now,
    o.result,
    o.httpStatus ?? null,
    o.smtpCode ?? null,
    o.retryAfterMs ?? null,
    o.error ?? null,
    Math.round(o.durationMs),
    id,
  );
}

/** Close every open attempt of a notification as crashed; returns how many there were. */
export function closeCrashed(conn: Connection, notificationId: number, now: number): number {
  return q(
    conn,
    `UPDATE delivery_attempts SET finished_at = @now, result = 'crashed', error = @error,
       duration_ms = @now - started_at
     WHERE notification_id = @id AND finished_at IS NULL`,
  ).run({ now, id: notificationId, error: CRASHED_ERROR }).changes;
}

interface RawAttempt {
  id: number;
  notification_id: number;
  attempt_no: number;
  job_id: number;
  lease_token: number;
  owner: string;
  started_at: number;
  finished_at: number | null;
  result: AttemptResult | null;
  http_status: number | null;
  smtp_code: number | null;
  retry_after_ms: number | null;
  plain_text: number;
  error: string | null;
  duration_ms: number | null;
}

export function attemptsOf(conn: Connection, notificationId: number): AttemptRow[] {
  return (
    q(conn, 'SELECT * FROM delivery_attempts WHERE notification_id = ? ORDER BY id').all(
      notificationId,
    ) as RawAttempt[]
  ).map((r) => ({
    id: r.id,
    notificationId: r.notification_id,
    attemptNo: r.attempt_no,
    jobId: r.job_id,
    leaseToken: r.lease_token,
    owner: r.owner,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    result: r.result,
    httpStatus: r.http_status,
    smtpCode: r.smtp_code,
    retryAfterMs: r.retry_after_ms,
    plainText: r.plain_text === 1,
    error: r.error,
    durationMs: r.duration_ms,
  }));
}

/** Attempts still open whose job is running in one of the dispatcher's queues (for start-up recovery). */
export function openAttemptsWithJobs(
  conn: Connection,
  queuePrefix: string,
): {
  attemptId: number;
  notificationId: number;
  jobId: number;
  leaseToken: number;
  jobToken: number;
  jobState: string;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  attempts: number;
  queue: string;
}[] {
  return q(
    conn,
    `SELECT a.id AS attemptId, a.notification_id AS notificationId, a.job_id AS jobId, a.lease_token AS leaseToken,
       j.lease_token AS jobToken, j.state AS jobState, j.lease_owner AS leaseOwner,
       j.lease_expires_at AS leaseExpiresAt, j.attempts AS attempts, j.queue AS queue
     FROM delivery_attempts a JOIN jobs j ON j.id = a.job_id
     WHERE a.finished_at IS NULL AND j.queue LIKE ? || '%'`,
  ).all(queuePrefix) as ReturnType<typeof openAttemptsWithJobs>;
}
