// The `mosaic` queue's one job kind, declared once: build one plan ({planId}). The planner enqueues it with the dedupe key
// `mosaic:<planId>` in the transaction that writes the plan; the dispatcher (dispatch.ts) claims it. The queue
// owns the lease, the fencing token, the retry timing and `dead`; the plan's state mirrors the job's.
import { z } from 'zod';
import type { BackoffPolicy } from '../../../lib/backoff.js';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import { cachedStatement, type Connection } from '../../../lib/db/index.js';
import { defineJob, type Job } from '../../../lib/queue/index.js';
import type { MosaicTier } from '../../../lib/mosaic/manifest.js';

export const MOSAIC_QUEUE = 'mosaic';
export const MOSAIC_KIND = 'mosaic.build';

export const MosaicBuildJob = defineJob({
  queue: MOSAIC_QUEUE,
  kind: MOSAIC_KIND,
  payload: z.object({ planId: z.number().int().positive() }),
});
export type MosaicBuildPayload = z.output<typeof MosaicBuildJob.schema>;

/** At most one unfinished build job per plan. */
export const buildDedupeKey = (planId: number): string => `mosaic:${planId}`;

/** Quicklook before science before deep. */
export const TIER_PRIORITY: Record<MosaicTier, number> = { quicklook: 30, science: 20, deep: 10 };

/** Retry delays: retryBaseS × 2^(n−1), capped at retryMaxS, ±10 % jitter. */
export function buildRetryPolicy(
  b: Pick<MosaicConfig['builder'], 'retryBaseS' | 'retryMaxS'>,
): BackoffPolicy {
  return { strategy: 'exponential', baseMs: b.retryBaseS * 1000, maxMs: b.retryMaxS * 1000, jitter: 0.1 };
}

/** A dispatcher that died mid-build: the plan's next try is due at once (the builder is not at fault). */
export const RETRY_NOW: BackoffPolicy = Object.freeze({
  strategy: 'constant',
  baseMs: 0,
  maxMs: 0,
  jitter: 0,
});

/**
 * Enqueue (or find, by `mosaic:<planId>`) the plan's build job inside the caller's write and link it to the
 * plan. The planner calls this in its plan transaction (the plan's name is the job's run id); an operator's
 * requeue too. No job timeout: the dispatcher owns the build's deadline (SIGTERM, then SIGKILL after the grace),
 * which a queue timeout aborting the handler at the same moment would cut short.
 */
export function enqueueBuild(
  conn: Connection,
  plan: { id: number; tier: MosaicTier; name?: string },
  maxAttempts: number,
  now: number,
  parentId: number | null = null,
): Job {
  const { job } = MosaicBuildJob.enqueue(
    conn,
    { planId: plan.id },
    {
      dedupeKey: buildDedupeKey(plan.id),
      runId: plan.name ?? null,
      priority: TIER_PRIORITY[plan.tier],
      maxAttempts,
      parentId,
    },
    now,
  );
  cachedStatement(conn, 'UPDATE mosaic_plans SET job_id = ? WHERE id = ?').run(job.id, plan.id);
  return job;
}
