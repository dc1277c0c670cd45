// Slurm job states as decisions, pure functions. A job is active (pending or running: keep tracking it, never
// submit another) or ended with a reason that tells the caller whether the program itself ran to its exit
// (its exit code decides) or Slurm ended it (time limit, memory, node failure, preemption, cancellation).
// States Slurm reports with a suffix ("CANCELLED by 0") or a trailing "+" are read by their first word.

/** Still Slurm's: the job may run, runs or is finishing. */
export const ACTIVE_STATES = [
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESIZING',
  'RESV_DEL_HOLD',
  'SIGNALING',
  'STAGE_OUT',
  'STOPPED',
] as const;

/** Why an ended job ended. */
export type SlurmEnd =
  /** The program exited (COMPLETED with 0, FAILED with non-zero): its exit code decides. */
  | 'exited'
  | 'timeout'
  | 'oom'
  | 'cancelled'
  /** The job's node failed (NODE_FAIL, BOOT_FAIL): not the program's fault. */
  | 'node_fail'
  | 'preempted'
  /** DEADLINE, or a state this build does not know. */
  | 'other';

export type SlurmPhase =
  { phase: 'pending' | 'running'; state: string } | { phase: 'ended'; state: string; end: SlurmEnd };

/** The state word Slurm printed, normalised ("CANCELLED by 0" → CANCELLED, "RUNNING+" → RUNNING). */
export function stateWord(raw: string): string {
  return (raw.trim().split(/\s+/)[0] ?? '').replace(/\+$/, '').toUpperCase();
}

export function slurmPhase(raw: string): SlurmPhase {
  const state = stateWord(raw);
  if (state === 'PENDING' || state === 'REQUEUED' || state === 'REQUEUE_HOLD' || state === 'REQUEUE_FED')
    return { phase: 'pending', state };
  if ((ACTIVE_STATES as readonly string[]).includes(state)) return { phase: 'running', state };
  const end: SlurmEnd =
    state === 'COMPLETED' || state === 'FAILED'
      ? 'exited'
      : state === 'TIMEOUT'
        ? 'timeout'
        : state === 'OUT_OF_MEMORY'
          ? 'oom'
          : state === 'CANCELLED'
            ? 'cancelled'
            : state === 'NODE_FAIL' || state === 'BOOT_FAIL'
              ? 'node_fail'
              : state === 'PREEMPTED'
                ? 'preempted'
                : 'other';
  return { phase: 'ended', state, end };
}

/** Slurm's `ExitCode` field `code:signal` ("3:0", "0:15"); null parts when absent or unparsable. */
export function parseExitCode(field: string | undefined): { exitCode: number | null; signal: number | null } {
  const m = /^(\d+):(\d+)$/.exec((field ?? '').trim());
  if (!m) return { exitCode: null, signal: null };
  return { exitCode: Number(m[1]), signal: Number(m[2]) };
}
