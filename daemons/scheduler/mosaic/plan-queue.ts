// The `mosaic` queue's build job, declared once (lib/queue defineJob): the planner enqueues it in the
// transaction that inserts the plan; the dispatcher claims it. Priority: quicklook before science before deep.
import { z } from 'zod';
import { defineJob } from '../../../lib/queue/index.js';
import type { MosaicTier } from '../../../lib/mosaic/manifest.js';

export const MOSAIC_QUEUE = 'mosaic';

export const MosaicBuildJob = defineJob({
  queue: MOSAIC_QUEUE,
  kind: 'mosaic.build',
  payload: z.object({ planId: z.number().int().positive() }),
});

export const TIER_PRIORITY: Readonly<Record<MosaicTier, number>> = { quicklook: 30, science: 20, deep: 10 };

/** At most one unfinished build job per plan. */
export const buildDedupeKey = (planId: number): string => `mosaic:${planId}`;
