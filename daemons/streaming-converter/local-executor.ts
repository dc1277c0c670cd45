// The local executor: the converter runs as a child process of its supervisor on this host (conversion.ts
// runs it and says how it ended; the queue worker settles it). Taking over an attempt after a restart looks
// for what still runs for it (its supervisor by the supervisor's file, anything carrying the attempt's
// marker, the pid in the row):
// - a supervisor still running under the attempt's own lease is adopted: its lease renewed under the same
//   token, then handed to the queue worker, which awaits and settles it like a live attempt (never a second
//   converter, no work thrown away);
// - anything else is stopped first (SIGTERM to its process groups, SIGKILL after killGraceS) and awaited;
//   then the attempt is settled from its directory: a converter that ended while the daemon was down left
//   its exit status (exit.json) and is classified exactly like a live one, so a success is adopted and never
//   converted again; with no exit status the files decide (output AND result ok), else it is `crashed` and
//   retried at once, or the group fails if that was its last attempt. It is settled through the worker's
//   settle (the host's settleFound) under the dead holder's lease token.
import { readSupervisor } from '../../lib/exec/attempt-files.js';
import type { AttemptRow, OpenAttempt } from './attempts.js';
import { UNSEEN } from '../../lib/exec/supervised.js';
import type { AttemptFacts, AttemptRun, Settle } from './conversion.js';
import { emit, type Ctx } from './context.js';
import type { AdoptionHost, ConversionExecutor, ExecutorStatus } from './executor.js';
import { RETRY_NOW } from './jobs.js';
import { markedProcesses, sameProcess } from '../../lib/exec/procs.js';

/** Is the converter recorded in the attempt row still the same live process? */
function orphanAlive(a: AttemptRow): boolean {
  return a.pid !== null && sameProcess(a.pid, a.pid_start_ticks);
}

type Found = 'killed' | 'finished' | 'dead';

export class LocalExecutor implements ConversionExecutor {
  readonly kind = 'local' as const;

  constructor(
    private readonly ctx: Ctx,
    private readonly host: AdoptionHost,
  ) {}

  attemptColumns(): { executor: 'local'; slurm_job_name: null } {
    return { executor: 'local', slurm_job_name: null };
  }

  submit(run: AttemptRun, abort: AbortController): Promise<Settle> {
    return this.host.runner.spawn(run, abort);
  }

  status(a: AttemptRow): Promise<ExecutorStatus> {
    const alive = orphanAlive(a);
    const phase = a.ended_at !== null ? 'ended' : alive ? 'running' : a.pid === null ? 'pending' : 'unknown';
    return Promise.resolve({ executor: 'local', phase, detail: a.pid === null ? null : String(a.pid) });
  }

  async cancel(a: AttemptRow): Promise<void> {
    const dir = a.manifest_path ? a.manifest_path.replace(/\/manifest\.json$/, '') : null;
    if (!dir) return;
    await this.host.runner.stopMarked({ dir }, () => (orphanAlive(a) ? [a.pgid ?? a.pid!] : []));
  }

  /** How to settle an attempt nothing runs for any more, and which of the recovery outcomes it was. */
  private verdictOf(
    a: OpenAttempt,
    run: AttemptRun,
    facts: AttemptFacts,
    killed: boolean,
    supervised: boolean,
  ): { found: Found; settle: Settle } {
    if (killed) {
      const verdict = { outcome: 'crashed' as const, error: 'daemon stopped during the conversion' };
      return { found: 'killed', settle: { ...facts, verdict, retryPolicy: RETRY_NOW } };
    }
    if (facts.exitKnown) return { found: 'finished', settle: facts };
    const why =
      a.pid === null && !supervised
        ? 'daemon stopped before the converter started'
        : 'daemon stopped during the conversion';
    return { found: 'dead', settle: this.host.runner.lostExit(run, facts, why) };
  }

  async adopt(a: OpenAttempt, run: AttemptRun, signal: AbortSignal): Promise<boolean> {
    const { clock, log, m } = this.ctx;
    const { runner } = this.host;
    const g = run.group;
    const sup = readSupervisor(run.dir, run.key);
    const supervised = sup !== null && sameProcess(sup.pid, sup.startTicks);
    // The host's adopt renews the lease through the queue's fenced heartbeat (id, token, running), which
    // refuses a job claimed again or ended since: this check only saves that write.
    // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, see above.
    const ownLease = a.job_state === 'running' && a.job_token === a.lease_token;
    if (supervised && ownLease) {
      const spawnedAt = a.spawned_at ?? sup.startedAt;
      const adopted = await this.host.adopt(
        run,
        { pid: sup.pid },
        (abort) => runner.watch(run, sup, spawnedAt, abort),
        signal,
      );
      if (adopted) {
        log.warn(
          { groupId: g.group_id, attempt: run.attempt, pid: sup.pid },
          'adopted a converter still running from a previous run',
        );
        m.recovered.inc({ child: 'adopted' });
        return true;
      }
    }
    const rowOrphan = (): number[] => (orphanAlive(a) ? [a.pgid ?? a.pid!] : []);
    const killed = markedProcesses(run.dir).length > 0 || rowOrphan().length > 0;
    if (killed)
      log.warn(
        { groupId: g.group_id, pid: a.pid, attempt: a.attempt },
        'orphaned converter from a previous run: stopping it',
      );
    // The block is not reachable in a test: it takes a process that outlives SIGKILL for 10 s (uninterruptible
    // I/O).
    // Stryker disable all
    if (!(await runner.stopMarked(run, rowOrphan, signal))) {
      log.error(
        { groupId: g.group_id, attempt: a.attempt },
        'orphaned converter did not die; the attempt stays open and recovery tries again',
      );
      return false;
    }
    // Stryker restore all
    const facts = runner.collect(run, UNSEEN);
    const { found, settle } = this.verdictOf(a, run, facts, killed, sup !== null);
    m.recovered.inc({ child: found });
    const pid = a.pid ?? sup?.pid ?? null;
    settle.also = (conn, { outcome, to }) => {
      const now = clock.now();
      const detail = { groupId: g.group_id, attempt: a.attempt, pid, outcome, to };
      if (outcome === 'crashed' && found !== 'finished') {
        emit(conn, 'attempt_crashed', { ...detail, orphanKilled: killed }, now);
        log.warn({ ...detail, from: 'converting', reason: 'crashed' }, 'recovered attempt');
      } else {
        emit(conn, 'attempt_adopted', { ...detail, running: false }, now);
        log.warn(
          { ...detail, from: 'converting' },
          'adopted the outcome of a conversion that ended while no daemon was watching it',
        );
      }
    };
    await this.host.settleFound(run, settle);
    return true;
  }
}
