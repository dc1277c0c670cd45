// What runs a conversion attempt: one interface, two implementations. The local executor runs the converter
// as a child process under its supervisor on this host (local-executor.ts); the Slurm executor submits it as
// a batch job (slurm-executor.ts). Everything around them is the same for both and lives outside them: the
// dispatch transaction (claim, group → converting, attempt row, to which the executor adds its columns), the
// queue worker that runs the attempt as a job (heartbeats its lease, aborts it when the lease is lost or at
// the end of the drain, counts it against maxConcurrent), the outcome classified by the same success rule
// and settled with the queue's decision in one transaction (outcome.ts), crash recovery's choice of which
// attempts to take over. An executor only starts, awaits, stops and finds the work, and says how it ended.
import type { ExecutorColumns, ExecutorKind, OpenAttempt, AttemptRow } from './attempts.js';
import type { AttemptBody, AttemptRun, AttemptRunner, Settle } from './conversion.js';

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
   * record `converter.attempt_adopted` with `detail`, then hand the attempt to the queue worker, which runs
   * `body` as one of its jobs (it counts against maxConcurrent, is heartbeated, drains and is settled like a
   * fresh one). False: not adopted.
   */
  adopt(
    run: AttemptRun,
    detail: Record<string, unknown>,
    body: AttemptBody,
    signal: AbortSignal,
  ): Promise<boolean>;
  /**
   * Settle an attempt whose work has ended (or was stopped) through the worker's settle, under the attempt's
   * own lease token (fenced). Throws when the write failed after its tries: the attempt stays open.
   */
  settleFound(run: AttemptRun, settle: Settle): Promise<void>;
}

export interface ConversionExecutor {
  readonly kind: ExecutorKind;
  /** The executor's columns of the attempt row, written in the dispatch transaction. */
  attemptColumns(groupId: string, attempt: number, now: number): ExecutorColumns;
  /**
   * Run a dispatched attempt (the worker's handler): start its work, await it and resolve with how it ended
   * (null: left running outside this process at shutdown, nothing to settle now). `abort` carries the
   * worker's reason: LeaseLostError (the job was taken over or cancelled: stop the work) or ShutdownError.
   */
  submit(run: AttemptRun, abort: AbortController): Promise<Settle | null>;
  /** Ask what runs the attempt now (never changes anything). */
  status(a: AttemptRow): Promise<ExecutorStatus>;
  /** Stop the attempt's work (an operator's abandon). Idempotent. */
  cancel(a: AttemptRow): Promise<void>;
  /**
   * After a restart, or when the job's lease expired under a stalled holder: take over an open attempt of
   * this executor (still running → hand it to the worker through the host's adopt; ended → settle its
   * outcome through the host's settleFound; never start its work a second time while it may still exist).
   * False: left open, recovery tries again.
   */
  adopt(a: OpenAttempt, run: AttemptRun, signal: AbortSignal): Promise<boolean>;
}
