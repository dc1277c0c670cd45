// The queue's SQL, one small named statement per operation, prepared once per connection. Every statement
// that acts on a claimed job is guarded by (id, lease_token, state = 'running'): a stale holder changes
// nothing. Row mapping lives here too, so the store never sees snake_case.
import type { Connection, Statement } from '../db/index.js';
import type { Job, JobState } from './types.js';

export interface RawJob {
  id: number;
  queue: string;
  kind: string;
  payload: string;
  dedupe_key: string | null;
  run_id: string | null;
  priority: number;
  run_at: number;
  state: JobState;
  attempts: number;
  max_attempts: number;
  timeout_ms: number | null;
  lease_owner: string | null;
  lease_token: number;
  lease_expires_at: number | null;
  last_error: string | null;
  result: string | null;
  parent_id: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export function toJob(r: RawJob): Job {
  return {
    id: r.id,
    queue: r.queue,
    kind: r.kind,
    payload: JSON.parse(r.payload) as Job['payload'],
    dedupeKey: r.dedupe_key,
    runId: r.run_id,
    priority: r.priority,
    runAt: r.run_at,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    timeoutMs: r.timeout_ms,
    leaseOwner: r.lease_owner,
    leaseToken: r.lease_token,
    leaseExpiresAt: r.lease_expires_at,
    lastError: r.last_error,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    parentId: r.parent_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}

type P = [Record<string, unknown>];

export interface QueueStatements {
  insert: Statement<P, RawJob>;
  findUnfinished: Statement<P, RawJob>;
  claim: Statement<P, RawJob>;
  heartbeat: Statement<P, { lease_expires_at: number }>;
  complete: Statement<P>;
  fail: Statement<P, { state: JobState; run_at: number }>;
  release: Statement<P>;
  cancel: Statement<P>;
  cancelQueued: Statement<P>;
  redrive: Statement<P>;
  get: Statement<[number], RawJob>;
  fence: Statement<P, { id: number }>;
  claimable: Statement<P, { due: number }>;
  list: Statement<P, RawJob>;
  stats: Statement<P, { queue: string; state: JobState; n: number; oldest_due: number | null }>;
  prune: Statement<P>;
}

// Due queued jobs and running jobs whose lease has expired, each taken in claim order from the index,
// then merged. Two limited branches (instead of one OR) keep the claim O(limit) on a long queue. The unary
// `+` keeps run_at / lease_expires_at out of index selection: after ANALYZE the planner otherwise picks a
// skip-scan on run_at plus a temp B-tree sort of every queued row. `CAST(@limit AS INTEGER)`, not a bare
// `@limit`: SQLite plans with a bound LIMIT's value, so every new binding re-prepared the whole statement
// (a claim cost 4–5× as much; docs/database.md §7).
const LIMIT = 'CAST(@limit AS INTEGER)';

/**
 * The WHERE term of the partial index jobs_claim (migration 0010). SQLite uses a partial index only for a query
 * whose WHERE contains that term as written, so every query that walks jobs_claim, here and in the daemons,
 * adds it beside its own `state = …`; without it the same query scans the whole table (docs/database.md §4).
 */
export const UNFINISHED = "state IN ('queued', 'running')";

const CLAIM_CANDIDATES = `
  SELECT id FROM (
    SELECT * FROM (SELECT id, priority, run_at FROM jobs
                   WHERE queue = @queue AND state = 'queued' AND ${UNFINISHED} AND +run_at <= @now
                   ORDER BY priority DESC, run_at, id LIMIT ${LIMIT})
    UNION ALL
    SELECT * FROM (SELECT id, priority, run_at FROM jobs
                   WHERE queue = @queue AND state = 'running' AND ${UNFINISHED} AND +lease_expires_at < @now
                   ORDER BY priority DESC, run_at, id LIMIT ${LIMIT})
  ) ORDER BY priority DESC, run_at, id LIMIT ${LIMIT}`;

// A claimed row already at max_attempts (its last run died holding the lease) goes to dead instead.
const EXHAUSTED = 'attempts >= max_attempts';

/** The last_error of a job a claim buried (see EXHAUSTED). */
export const BURIED_ERROR = 'lease expired on the last attempt (worker died or stalled)';

const GUARD = "id = @id AND lease_token = @token AND state = 'running'";

const cache = new WeakMap<Connection, QueueStatements>();

export function queueStatements(conn: Connection): QueueStatements {
  const cached = cache.get(conn);
  if (cached) return cached;
  const p = <R = unknown>(sql: string): Statement<P, R> => conn.prepare(sql);
  const s: QueueStatements = {
    insert: p(
      `INSERT INTO jobs (queue, kind, payload, dedupe_key, run_id, priority, run_at, max_attempts, timeout_ms,
         parent_id, created_at, updated_at)
       VALUES (@queue, @kind, @payload, @dedupeKey, @runId, @priority, @runAt, @maxAttempts, @timeoutMs,
         @parentId, @now, @now)
       ON CONFLICT DO NOTHING
       RETURNING *`,
    ),
    findUnfinished: p(
      `SELECT * FROM jobs WHERE queue = @queue AND dedupe_key = @dedupeKey AND state IN ('queued', 'running')`,
    ),
    claim: p(
      `UPDATE jobs SET
         state = CASE WHEN ${EXHAUSTED} THEN 'dead' ELSE 'running' END,
         attempts = CASE WHEN ${EXHAUSTED} THEN attempts ELSE attempts + 1 END,
         last_error = CASE WHEN ${EXHAUSTED}
           THEN '${BURIED_ERROR}' ELSE last_error END,
         finished_at = CASE WHEN ${EXHAUSTED} THEN @now ELSE NULL END,
         lease_owner = @owner, lease_token = lease_token + 1,
         lease_expires_at = CASE WHEN ${EXHAUSTED} THEN NULL ELSE @expires END,
         started_at = CASE WHEN ${EXHAUSTED} THEN started_at ELSE @now END, updated_at = @now
       WHERE id IN (${CLAIM_CANDIDATES})
       RETURNING *`,
    ),
    heartbeat: p(
      `UPDATE jobs SET lease_expires_at = @expires, updated_at = @now WHERE ${GUARD} RETURNING lease_expires_at`,
    ),
    complete: p(
      `UPDATE jobs SET state = 'done', result = @result, lease_expires_at = NULL, finished_at = @now,
         updated_at = @now
       WHERE ${GUARD}`,
    ),
    fail: p(
      `UPDATE jobs SET
         state = CASE WHEN @retryable AND attempts < max_attempts THEN 'queued' ELSE 'dead' END,
         run_at = CASE WHEN @retryable AND attempts < max_attempts THEN @retryAt ELSE run_at END,
         finished_at = CASE WHEN @retryable AND attempts < max_attempts THEN NULL ELSE @now END,
         last_error = @error, lease_expires_at = NULL, updated_at = @now
       WHERE ${GUARD}
       RETURNING state, run_at`,
    ),
    // Shutdown hand-back: claimable at once, and the interrupted run does not count as an attempt.
    release: p(
      `UPDATE jobs SET state = 'queued', run_at = @now, attempts = max(attempts - 1, 0), lease_expires_at = @now,
         updated_at = @now
       WHERE ${GUARD}`,
    ),
    cancel: p(
      `UPDATE jobs SET state = 'cancelled', lease_expires_at = NULL, finished_at = @now, updated_at = @now
       WHERE id = @id AND state IN ('queued', 'running')`,
    ),
    cancelQueued: p(
      `UPDATE jobs SET state = 'cancelled', lease_expires_at = NULL, finished_at = @now, updated_at = @now
       WHERE id = @id AND state = 'queued'`,
    ),
    redrive: p(
      `UPDATE jobs SET state = 'queued', attempts = 0, run_at = @now, lease_owner = NULL, lease_expires_at = NULL,
         finished_at = NULL, updated_at = @now
       WHERE id = @id AND state = 'dead'`,
    ),
    get: conn.prepare('SELECT * FROM jobs WHERE id = ?'),
    fence: p(`SELECT id FROM jobs WHERE ${GUARD}`),
    // Would a claim find anything? A read (no write lock) before the claim's write. Two EXISTS so each walks
    // only its (queue, state) slice of the claim index, never the finished jobs.
    claimable: p(
      `SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = @queue AND state = 'queued' AND ${UNFINISHED}
                        AND run_at <= @now)
         OR EXISTS (SELECT 1 FROM jobs WHERE queue = @queue AND state = 'running' AND ${UNFINISHED}
                    AND lease_expires_at < @now)
       AS due`,
    ),
    list: p(
      `SELECT * FROM jobs
       WHERE (@queue IS NULL OR queue = @queue) AND (@state IS NULL OR state = @state)
         AND (@kind IS NULL OR kind = @kind) AND (@parentId IS NULL OR parent_id = @parentId)
         AND (@beforeId IS NULL OR id < @beforeId)
       ORDER BY id DESC LIMIT @limit`,
    ),
    // Unfinished jobs from jobs_claim, finished ones from jobs_finished: each part reads one partial index.
    stats: p(
      `SELECT queue, state, count(*) AS n,
         min(CASE WHEN state = 'queued' AND run_at <= @now THEN run_at END) AS oldest_due
       FROM jobs WHERE ${UNFINISHED} GROUP BY queue, state
       UNION ALL
       SELECT queue, state, count(*) AS n, NULL AS oldest_due
       FROM jobs WHERE finished_at IS NOT NULL AND NOT (${UNFINISHED}) GROUP BY queue, state
       ORDER BY queue, state`,
    ),
    // Parents of reruns wait until their children are gone (the foreign key), then go in a later batch.
    prune: p(
      `DELETE FROM jobs WHERE id IN (
         SELECT j.id FROM jobs j
         WHERE j.state IN (SELECT value FROM json_each(@states)) AND j.finished_at < @cutoff
           AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = j.id)
         LIMIT @batch)`,
    ),
  };
  cache.set(conn, s);
  return s;
}
