// The converter on lib/queue: one `conversions` job per dispatchable group (dedupe key = group id). The
// queue owns claim, lease, fencing token, heartbeat, retry timing and dead; the group's state is the
// operator-facing view, moved in the same transaction as its job (db.write nests the store's writes as
// savepoints). Priority = −anchor seconds, so the queue's claim order is oldest observation first.
import type { BackoffPolicy } from '../../lib/backoff.js';
import type { Connection, Db } from '../../lib/db/index.js';
import { InvalidStateError, NotFoundError } from '../../lib/errors.js';
import { z } from 'zod';
import { defineJob, jobIn, SqliteQueueStore, type Job, type QueueMetrics } from '../../lib/queue/index.js';
import type { Clock } from '../../lib/clock.js';
import type { ConverterConfig } from './context.js';
import { linkJob } from './store.js';

export const QUEUE = 'conversions';
export const KIND = 'convert';

/** The conversion job: one converter_groups row (its id and, for people reading the queue, its group id). */
export const ConvertJob = defineJob({
  queue: QUEUE,
  kind: KIND,
  payload: z.object({ groupRef: z.number().int().positive(), groupId: z.string().min(1) }),
});
export type ConvertPayload = z.output<typeof ConvertJob.schema>;

/** Retry delays from config: retryBaseS × 2^(attempt−1), ±10 % jitter, capped at retryMaxS. */
export function retryPolicyOf(cfg: Pick<ConverterConfig, 'retryBaseS' | 'retryMaxS'>): BackoffPolicy {
  return {
    strategy: 'exponential',
    baseMs: cfg.retryBaseS * 1000,
    maxMs: cfg.retryMaxS * 1000,
    jitter: 0.1,
  };
}

/** A daemon that died mid-attempt: the group's one more try is due at once (the converter is not at fault). */
export const RETRY_NOW: BackoffPolicy = Object.freeze({
  strategy: 'constant',
  baseMs: 0,
  maxMs: 0,
  jitter: 0,
});

export function conversionStore(
  db: Db,
  cfg: ConverterConfig,
  opts: { clock?: Clock; metrics?: QueueMetrics } = {},
): SqliteQueueStore {
  return new SqliteQueueStore(db, { ...opts, retryPolicy: retryPolicyOf(cfg) });
}

/** Enqueue (or find) the group's conversion job inside the caller's write and link it to the group. */
export function enqueueConversion(
  conn: Connection,
  g: { id: number; group_id: string; anchor_ms: number },
  maxAttempts: number,
  now: number,
  parentId: number | null = null,
): Job {
  const { job } = ConvertJob.enqueue(
    conn,
    { groupRef: g.id, groupId: g.group_id },
    {
      dedupeKey: g.group_id,
      priority: -Math.floor(g.anchor_ms / 1000),
      maxAttempts,
      parentId,
    },
    now,
  );
  linkJob(conn, g.id, job.id);
  return job;
}

/** Cancel the group's job if it is still queued (inside the caller's write); finished jobs are left alone. */
export function cancelQueued(store: SqliteQueueStore, conn: Connection, jobId: number | null): void {
  if (jobId === null) return;
  if (jobIn(conn, jobId)?.state !== 'queued') return;
  try {
    store.cancel(jobId);
  } catch (e) {
    if (!(e instanceof InvalidStateError || e instanceof NotFoundError)) throw e;
  }
}

/** The job's state, next run time and attempt budget. */
export function jobView(
  conn: Connection,
  jobId: number | null,
): { state: string; runAt: number; maxAttempts: number } | null {
  if (jobId === null) return null;
  const j = jobIn(conn, jobId);
  return j ? { state: j.state, runAt: j.runAt, maxAttempts: j.maxAttempts } : null;
}
