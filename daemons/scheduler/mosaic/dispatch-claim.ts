// What a claimed (or adopted) mosaic build carries from the claim to its handler and its settle, and the job as
// the worker's settle sees it.
import type { SettlingJob } from '../../../lib/queue/index.js';
import { MOSAIC_KIND, MOSAIC_QUEUE, type MosaicBuildPayload } from './dispatch-jobs.js';
import type { BuildRun } from './dispatch-local.js';
import type { BuildEnd, Verdict } from './dispatch-outcome.js';

/** What the claim hands the handler and the settle. */
export interface BuildClaim {
  run: BuildRun;
  /**
   * How the work is awaited (a fresh spawn or submission, an adopted supervisor or Slurm job): how it ended,
   * or null when `detach` (shutdown) left it running. `kill` stops it (a lost lease).
   */
  work: (kill: AbortSignal, detach: AbortSignal) => Promise<BuildEnd | null>;
  /** The manifest could not be made from the plan: nothing ran, and retrying cannot help. */
  prepareError?: string;
  /** Set once the end is known; the settle refuses (records nothing) without it. */
  ended?: { end: BuildEnd; verdict: Verdict };
}

export function jobOf(run: BuildRun): SettlingJob<MosaicBuildPayload> {
  return {
    id: run.lease.jobId,
    queue: MOSAIC_QUEUE,
    kind: MOSAIC_KIND,
    payload: { planId: run.plan.id },
    lease: run.lease,
  };
}
