// A Slurm job's end as the converter's outcome, a pure function. A job that ran the converter to its exit
// (COMPLETED, FAILED) is classified by the same rule as a local child (exit 0 AND output AND result ok; the
// exit codes' meanings in rules.ts); Slurm's own ends get their outcome and retry timing here:
// TIMEOUT → timeout, OUT_OF_MEMORY → oom (both retried with backoff), NODE_FAIL/BOOT_FAIL and PREEMPTED →
// crashed and retried at once (the cluster's fault, not the converter's), CANCELLED by the daemon (its
// lease was lost: the job was taken over or abandoned) → aborted, CANCELLED by anyone else → failed
// (retried with backoff; `converter abandon` is how to stop a group), anything else → failed.
import os from 'node:os';
import type { BackoffPolicy } from '../../lib/backoff.js';
import type { SlurmEnd } from '../../lib/slurm/index.js';
import type { ChildResult } from '../../lib/exec/child.js';
import { RETRY_NOW } from './jobs.js';
import type { Outcome } from './rules.js';

export interface SlurmEndFacts {
  /** What goes into the ChildResult the outcome code classifies. */
  res: Pick<ChildResult, 'exitCode' | 'signal' | 'timedOut' | 'aborted'>;
  /** Decided here when Slurm, not the converter's exit, ended the job. */
  verdict?: { outcome: Outcome; error: string };
  retryPolicy?: BackoffPolicy;
}

/** A signal number as its name (SIGTERM), null for none. */
export function signalName(n: number | null): string | null {
  if (!n) return null;
  const hit = Object.entries(os.constants.signals).find(([, v]) => v === n);
  return hit ? hit[0] : `SIG${n}`;
}

export function slurmEndFacts(
  end: { state: string; end: SlurmEnd; exitCode: number | null; signal: number | null },
  cancelledByUs: boolean,
): SlurmEndFacts {
  const base = { exitCode: end.exitCode, signal: signalName(end.signal), timedOut: false, aborted: false };
  const why = (text: string) => `Slurm job ${end.state}: ${text}`;
  switch (end.end) {
    case 'exited':
      // FAILED with exit 0 and no signal: the completion record dropped the signal that killed it.
      if (end.state === 'FAILED' && !end.exitCode && !base.signal)
        return {
          res: base,
          verdict: { outcome: 'crashed', error: why('killed by a signal Slurm did not record') },
        };
      if (end.exitCode === null)
        return { res: base, verdict: { outcome: 'crashed', error: why('no exit code recorded') } };
      return { res: base };
    case 'timeout':
      return {
        res: { ...base, timedOut: true },
        verdict: { outcome: 'timeout', error: why('ran past its time limit') },
      };
    case 'oom':
      return { res: base, verdict: { outcome: 'oom', error: why('ran out of memory') } };
    case 'cancelled':
      return cancelledByUs
        ? {
            res: { ...base, aborted: true },
            verdict: { outcome: 'aborted', error: why('cancelled by the converter daemon') },
          }
        : {
            res: base,
            verdict: { outcome: 'failed', error: why('cancelled outside the converter daemon (scancel)') },
          };
    case 'node_fail':
      return {
        res: base,
        verdict: { outcome: 'crashed', error: why('its node failed') },
        retryPolicy: RETRY_NOW,
      };
    case 'preempted':
      return { res: base, verdict: { outcome: 'crashed', error: why('preempted') }, retryPolicy: RETRY_NOW };
    case 'other':
      return { res: base, verdict: { outcome: 'failed', error: why('ended') } };
  }
}
