// One claim round of the worker, inside the claim's write transaction: the claim itself (ops.ts), each
// claimed payload checked against the worker's job type, the daemon's onClaim for each job to run (or
// skipClaim: finished here), onSettle for each job the claim buried (its last attempt's holder died). A
// hook that throws rolls the whole round back, the claim included. What to count and log afterwards is the
// worker's (afterClaim), once the transaction has committed.
import type { Connection } from '../db/index.js';
import type { BackoffPolicy } from '../backoff.js';
import type { JobType } from './job-type.js';
import { BURIED_ERROR, claimIn, completeIn, failIn } from './ops.js';
import {
  isSkipClaim,
  type ClaimedJob,
  type ClaimOptions,
  type JsonObject,
  type SettleEvent,
  type WorkerHooks,
} from './types.js';

export interface ClaimRound<P, C> {
  run: { job: ClaimedJob<P>; claim: C }[];
  buried: SettleEvent<P, C>[];
  /** Jobs the claim buried whose payload no longer fits the worker's type: dead, told to no hook. */
  buriedUnfit: { job: ClaimedJob; error: Error }[];
  skipped: SettleEvent<P, C>[];
  invalid: { id: number; error: Error }[];
}

export function claimRound<P extends JsonObject, C>(
  conn: Connection,
  o: {
    claim: ClaimOptions;
    now: number;
    hooks: WorkerHooks<P, C>;
    type?: JobType<P>;
    /** How a job that does not fit its type fails (never retried: it will not fit next time either). */
    failOptions: { retryable: boolean; policy: BackoffPolicy; random?: () => number };
  },
): ClaimRound<P, C> {
  const { hooks, now } = o;
  const r: ClaimRound<P, C> = {
    run: [],
    buried: [],
    buriedUnfit: [],
    skipped: [],
    invalid: [],
  };
  if (hooks.beforeClaim && !hooks.beforeClaim(conn)) return r;
  const { claimed, buried } = claimIn(conn, o.claim, now);
  for (const b of buried) {
    const job = parseClaimed(o.type, b);
    if (job instanceof Error) {
      // Nothing of the domain's to tell about a payload it never had; still dead, counted and logged.
      r.buriedUnfit.push({ job: b, error: job });
      continue;
    }
    const ev: SettleEvent<P, C> = {
      job,
      claim: undefined,
      decision: { state: 'dead', error: BURIED_ERROR, buried: true, cause: undefined },
    };
    hooks.onSettle?.(conn, ev);
    r.buried.push(ev);
  }
  for (const raw of claimed) {
    const job = parseClaimed(o.type, raw);
    if (job instanceof Error) {
      failIn(conn, raw.lease, job, o.failOptions, now);
      r.invalid.push({ id: raw.id, error: job });
      continue;
    }
    const claim = hooks.onClaim ? hooks.onClaim(conn, job) : (undefined as C);
    if (isSkipClaim(claim)) {
      completeIn(conn, job.lease, claim.result, now);
      r.skipped.push({ job, claim: undefined, decision: { state: 'done', result: claim.result } });
    } else r.run.push({ job, claim });
  }
  return r;
}

/** The claimed job with its payload checked against the worker's type (an Error when it does not fit). */
export function parseClaimed<P extends JsonObject>(
  type: JobType<P> | undefined,
  job: ClaimedJob,
): ClaimedJob<P> | Error {
  if (!type) return job as ClaimedJob<P>;
  if (job.kind !== type.kind)
    return new TypeError(
      `no handler for kind "${job.kind}" in queue ${job.queue} (this worker runs ${type.kind})`,
    );
  try {
    return { ...job, payload: type.parse(job.payload) };
  } catch (e) {
    return e as Error;
  }
}
