// What runs a conversion attempt: one interface, two implementations. The local executor runs the converter
// as a child process under its supervisor on this host (local-executor.ts); the Slurm executor submits it as
// a batch job (slurm-executor.ts). Everything around them is the same for both: the dispatch transaction
// (claim, group → converting, attempt row, to which the executor adds its columns), the job's lease
// heartbeated while the attempt runs, the outcome classified by the same success rule and settled in one
// transaction (recordOutcome), crash recovery's choice of which attempts to take over.
import type { ExecutorColumns, ExecutorKind, OpenAttempt, AttemptRow } from './attempts.js';
import type { AttemptRun, AttemptRunner } from './conversion.js';

export type { ExecutorKind };

/** What runs an attempt now, as far as the executor can tell (for `converter show` and the API). */
export interface ExecutorStatus {
  executor: ExecutorKind;
  /** pending | running | ended | unknown */
  phase: 'pending' | 'running' | 'ended' | 'unknown';
  /** Slurm's state word, or the local converter's pid. */
  detail: string | null;
}

/** What an executor needs from the dispatcher to take over an attempt after a restart. */
export interface AdoptionHost {
  readonly runner: AttemptRunner;
  /**
   * Renew the job's lease under the attempt's own token (refused when someone has claimed the job since),
   * record `converter.attempt_adopted` with `detail`, then run `body` as one of the in-flight attempts
   * (it counts against maxConcurrent, heartbeats and drains like a fresh one). False: not adopted.
   */
  adopt(
    run: AttemptRun,
    detail: Record<string, unknown>,
    body: (abort: AbortController) => Promise<void>,
    signal: AbortSignal,
  ): Promise<boolean>;
}

export interface ConversionExecutor {
  readonly kind: ExecutorKind;
  /** The executor's columns of the attempt row, written in the dispatch transaction. */
  attemptColumns(groupId: string, attempt: number, now: number): ExecutorColumns;
  /** Run a dispatched attempt: start its work, heartbeat the lease, settle the outcome when it ends. */
  submit(run: AttemptRun, abort: AbortController): Promise<void>;
  /** Ask what runs the attempt now (never changes anything). */
  status(a: AttemptRow): Promise<ExecutorStatus>;
  /** Stop the attempt's work (an operator's abandon). Idempotent. */
  cancel(a: AttemptRow): Promise<void>;
  /**
   * After a restart, or when the job's lease expired under a stalled holder: take over an open attempt of
   * this executor (still running → keep tracking it; ended → settle its outcome; never start its work a
   * second time while it may still exist). False: left open, recovery tries again.
   */
  adopt(a: OpenAttempt, run: AttemptRun, signal: AbortSignal): Promise<boolean>;
}
