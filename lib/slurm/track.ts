// Running one program as a Slurm job exactly once, shared by every daemon that submits batch jobs (the
// streaming converter's conversions, the scheduler's mosaic builds); each keeps only its job naming, its row
// writes and how a job's end becomes its outcome.
// - A job is submitted under a deterministic name. sbatch that got no answer (the controller down) may still
//   have created the job, so every later try first looks the name up and takes the job it finds: never a
//   second submission.
// - A job whose id never reached the caller's row (sbatch unanswered, a crash right after it) is found again
//   by name after a restart.
// - The job is polled (squeue, sacct or its completion file once it left the queue) until it ended; an ended
//   job whose exit code accounting has not written yet gets a few short extra polls.
// - `kill` or the caller's own deadline scancels the job (retried at the next poll when scancel fails) and
//   tracking goes on until Slurm reports the end; `detach` stops tracking and leaves the job running (the
//   next start adopts it).
// - A controller that does not answer is retried after the backoff its SlurmUnreachableError carries.
import { pause } from '../clock.js';
import { SlurmUnreachableError } from '../errors.js';
import type { SbatchJob, SbatchOptions } from './args.js';
import type { JobStatus, SlurmClient } from './client.js';

/** Polls to wait for an ended job's accounting record (its exit code) before the caller's files decide. */
export const ACCOUNTING_POLLS = 5;

/** Told whether the controller answered, for a caller's alert and gauge. */
export interface SlurmReachability {
  onAnswered?: () => void;
  onUnreachable?: (e: SlurmUnreachableError) => void;
}

/**
 * `fn`, retried while the controller does not answer (after the delay the error carries); any other error
 * is thrown. Undefined: `signal` aborted first.
 */
export async function whileUnreachable<T>(
  fn: () => Promise<T>,
  signal: AbortSignal,
  reach: SlurmReachability = {},
): Promise<T | undefined> {
  for (;;) {
    if (signal.aborted) return undefined;
    try {
      const out = await fn();
      reach.onAnswered?.();
      return out;
    } catch (e) {
      if (!(e instanceof SlurmUnreachableError)) throw e;
      reach.onUnreachable?.(e);
      await pause(e.retryInMs, signal);
    }
  }
}

/**
 * Which of several jobs of one name is the attempt's: `oldest` (the first submission; every other one is
 * cancelled), or `newest-live` (the newest one Slurm still runs, else the newest that ended: an older job of
 * the same name is a leftover of a recreated database; a second live one is cancelled).
 */
export type ByNamePolicy = 'oldest' | 'newest-live';

/** The job with this name by `policy`, or null; `onExtra` is told of each job cancelled as a duplicate. */
export async function findByName(
  client: SlurmClient,
  name: string,
  policy: ByNamePolicy,
  onExtra?: (job: JobStatus) => void,
): Promise<string | null> {
  const jobs = await client.byName(name);
  let pick: JobStatus | undefined;
  let extras: JobStatus[];
  if (policy === 'oldest') {
    jobs.sort((a, b) => Number(a.id) - Number(b.id));
    pick = jobs[0];
    extras = jobs.slice(1);
  } else {
    jobs.sort((a, b) => Number(b.id) - Number(a.id));
    const live = jobs.filter((j) => j.phase.phase !== 'ended');
    pick = live[0] ?? jobs[0];
    extras = live.slice(1);
  }
  for (const extra of extras) {
    onExtra?.(extra);
    await client.cancel(extra.id);
  }
  return pick?.id ?? null;
}

export interface SubmitOnce extends SlurmReachability {
  options: SbatchOptions;
  job: SbatchJob;
  /** The job's environment (sbatch exports it to the job). */
  env: NodeJS.ProcessEnv;
  policy: ByNamePolicy;
  /** Stops the retries: null is returned. */
  signal: AbortSignal;
  onExtra?: (job: JobStatus) => void;
  /** A job found by name after an unanswered sbatch (instead of a second submission). */
  onFound?: (id: string) => void;
}

/**
 * sbatch the job, retried while the controller does not answer; after an unanswered sbatch every try first
 * looks the name up, so a job that was created anyway is taken instead of a second one. Null: stopped first.
 * SlurmRejectedError (Slurm refused the job) is thrown.
 */
export async function submitOnce(client: SlurmClient, o: SubmitOnce): Promise<string | null> {
  let uncertain = false;
  const id = await whileUnreachable(
    async () => {
      if (uncertain) {
        const found = await findByName(client, o.job.name, o.policy, o.onExtra);
        if (found) {
          o.onFound?.(found);
          return found;
        }
      }
      try {
        return await client.submit(o.options, o.job, o.env);
      } catch (e) {
        if (e instanceof SlurmUnreachableError && e.details.command === 'sbatch') uncertain = true;
        throw e;
      }
    },
    o.signal,
    o,
  );
  return id ?? null;
}

export type StopReason = 'kill' | 'deadline';

export interface TrackOptions extends SlurmReachability {
  pollMs: number;
  /** The wait between the extra polls for an ended job's exit code. */
  accountingPollMs: number;
  /** Stop tracking, leave the job running: null is returned. */
  detach: AbortSignal;
  /** scancel the job (then track it to its end). */
  kill?: AbortSignal;
  /** scancel the job once `now()` reaches this (ms); none when absent. */
  deadline?: number;
  now: () => number;
  /** Each status read, the first one flagged (an adopted job: still running, or ended meanwhile). */
  onStatus?: (s: JobStatus | null, first: boolean) => void;
  /** The job's state word changed (`prev` null at the first state seen). */
  onState?: (s: JobStatus, prev: string | null) => void;
  onCancelFailed?: (e: unknown) => void;
}

export interface TrackedEnd {
  /** The last status: ended, or null when Slurm knows the job no longer at all. */
  status: JobStatus | null;
  /** Why this process scancelled the job (the scancel succeeded), null when it did not. */
  stoppedBy: StopReason | null;
}

/** Poll the job until it ended; scancel it on `kill` or at the deadline; null on `detach`. */
export async function trackUntilEnded(
  client: SlurmClient,
  jobId: string,
  o: TrackOptions,
): Promise<TrackedEnd | null> {
  const deadline = o.deadline ?? Infinity;
  let last: string | null = null;
  let stoppedBy: StopReason | null = null;
  // Once a stop was asked for, waits no longer end on `kill` (already aborted): only `detach` cuts them short.
  let stopping = false;
  let accountingWaits = 0;
  let first = true;
  const wake = () => (stopping || !o.kill ? o.detach : AbortSignal.any([o.kill, o.detach]));
  for (;;) {
    if (o.detach.aborted) return null;
    if (stoppedBy === null && (o.kill?.aborted || o.now() >= deadline)) {
      stopping = true;
      const reason: StopReason = o.kill?.aborted ? 'kill' : 'deadline';
      try {
        await client.cancel(jobId);
        stoppedBy = reason;
      } catch (e) {
        o.onCancelFailed?.(e); // tried again at the next poll
      }
    }
    let s: JobStatus | null;
    try {
      s = await client.status(jobId);
      o.onAnswered?.();
    } catch (e) {
      if (!(e instanceof SlurmUnreachableError)) throw e;
      o.onUnreachable?.(e);
      await pause(Math.max(o.pollMs, e.retryInMs), wake());
      continue;
    }
    o.onStatus?.(s, first);
    first = false;
    if (s && s.phase.state !== last) {
      const prev = last;
      last = s.phase.state;
      o.onState?.(s, prev);
    }
    const ended = !s || s.phase.phase === 'ended';
    if (ended && s && s.exitCode === null && accountingWaits++ < ACCOUNTING_POLLS) {
      await pause(o.accountingPollMs);
      continue;
    }
    if (ended) return { status: s, stoppedBy };
    await pause(o.pollMs, wake());
  }
}

/** scancel an attempt's job(s): by its id, or by its name when the id never reached the row. Idempotent. */
export async function cancelByIdOrName(
  client: SlurmClient,
  a: { slurm_job_id: string | null; slurm_job_name: string | null },
): Promise<string[]> {
  const ids = a.slurm_job_id
    ? [a.slurm_job_id]
    : a.slurm_job_name
      ? (await client.byName(a.slurm_job_name)).map((j) => j.id)
      : [];
  for (const id of ids) await client.cancel(id);
  return ids;
}
