// The Slurm executor: an attempt runs as a Slurm batch job. The dispatch transaction names the job in the
// attempt row (the name carries the group id, the attempt number and the dispatch time); then the attempt
// directory is prepared as for a local run (manifest, result and output paths), a generated batch script
// that `exec`s the converter's argv is written there, and sbatch submits it (output and error files in the
// attempt directory, the converter's environment exported to the job). The job id goes on the row when
// sbatch answers; the job is then polled (squeue, sacct once it ended) every pollS while the queue worker
// heartbeats the job's lease, and its end is returned to the worker, which settles it with the same outcome
// code as a local child.
//
// Exactly once: a job is never submitted a second time for an attempt while it may exist. sbatch that got
// no answer (the controller down) may still have created the job, so every later try looks the name up
// first; recovery after a restart tracks the row's job id, or finds the job by name when the id never
// reached the row; a job id Slurm still has is tracked, one that ended is settled. A controller that does
// not answer raises ConverterSlurmUnreachable and the commands are retried with backoff (the error's retry
// decision); the alert resolves on the next answer. Shutdown (the worker's abort with ShutdownError) leaves
// running jobs alone and settles nothing (the next start adopts them); a lost lease (the worker's abort with
// LeaseLostError: the job taken over, or the group abandoned) cancels the job.
// Submit-once, find-by-name, tracking and the unreachable retries are lib/slurm/track.ts, shared with the
// mosaic dispatcher; this file keeps the converter's naming, row writes, metrics, alert and outcome.
import fs from 'node:fs';
import path from 'node:path';
import { LeaseLostError, SlurmRejectedError, SlurmUnreachableError } from '../../lib/errors.js';
import { jobIn } from '../../lib/queue/index.js';
import {
  batchScript,
  minutesLimit,
  type Exec,
  type SlurmClient,
  type JobStatus,
  type SbatchOptions,
  cancelByIdOrName,
  findByName,
  submitOnce,
  trackUntilEnded,
  whileUnreachable,
} from '../../lib/slurm/index.js';
import { readTail, RESULT_FILE, STDERR_FILE, STDOUT_FILE } from '../../lib/exec/attempt-files.js';
import type { AttemptRow, OpenAttempt } from './attempts.js';
import { usesPlaceholder } from './argv.js';
import type { AttemptFacts, AttemptRun, Settle } from './conversion.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import type { AdoptionHost, ConversionExecutor, ExecutorStatus } from './executor.js';
import { RETRY_NOW } from './jobs.js';
import { UNSEEN } from '../../lib/exec/supervised.js';
import { readResult, spawnFailure } from './outcome.js';
import { slurmClientFor } from './slurm-cancel.js';
import { slurmEndFacts } from './slurm-outcome.js';
import * as S from './store.js';

export const BATCH_SCRIPT = 'job.sh';
const ALERT = 'ConverterSlurmUnreachable';

/** The job's name: no whitespace (sacct's completion-file reader splits on it), unique per attempt run. */
export function slurmJobName(groupId: string, attempt: number, dispatchedAt: number): string {
  return `contimg_${groupId.replace(/\s/g, '_')}_a${attempt}_${dispatchedAt}`;
}

/** The worker aborted the handler because the job's lease was lost (taken over, or cancelled). */
function leaseLost(abort: AbortController): boolean {
  return abort.signal.reason instanceof LeaseLostError;
}

export class SlurmExecutor implements ConversionExecutor {
  readonly kind = 'slurm' as const;
  readonly client: SlurmClient;
  private reachable = true;

  constructor(
    private readonly ctx: Ctx,
    private readonly host: AdoptionHost,
    exec?: Exec,
  ) {
    this.client = slurmClientFor(ctx.cfg, {
      exec,
      onCall: (command, result) => ctx.m.slurmCommands.inc({ command, result }),
    });
  }

  private get pollMs(): number {
    const ex = this.ctx.cfg.executor;
    return (ex.kind === 'slurm' ? ex.pollS : 10) * 1000;
  }

  private sbatchOptions(): SbatchOptions {
    const { cfg } = this.ctx;
    const ex = cfg.executor;
    if (ex.kind !== 'slurm') throw new SlurmRejectedError('streamingConverter.executor is not slurm');
    return {
      partition: ex.partition,
      account: ex.account,
      qos: ex.qos,
      cpusPerTask: ex.cpusPerTask,
      memGb: ex.memGb,
      timeLimit: ex.timeLimit ?? minutesLimit(cfg.converter.timeoutS),
      sbatchArgs: ex.sbatchArgs,
    };
  }

  attemptColumns(
    groupId: string,
    attempt: number,
    now: number,
  ): { executor: 'slurm'; slurm_job_name: string } {
    return { executor: 'slurm', slurm_job_name: slurmJobName(groupId, attempt, now) };
  }

  async status(a: AttemptRow): Promise<ExecutorStatus> {
    if (!a.slurm_job_id) return { executor: 'slurm', phase: 'pending', detail: a.slurm_state };
    const s = await this.client.status(a.slurm_job_id);
    if (!s) return { executor: 'slurm', phase: 'unknown', detail: a.slurm_state };
    return { executor: 'slurm', phase: s.phase.phase, detail: s.phase.state };
  }

  async cancel(a: AttemptRow): Promise<void> {
    await cancelByIdOrName(this.client, a);
  }

  async submit(run: AttemptRun, abort: AbortController): Promise<Settle | null> {
    const { runner } = this.host;
    const name = this.ctx.db.read((c) => S.attemptById(c, run.attemptId))?.slurm_job_name;
    let script: string;
    try {
      if (!name) throw new Error('the attempt row has no Slurm job name');
      const argv = runner.prepare(run);
      script = path.join(run.dir, BATCH_SCRIPT);
      fs.writeFileSync(script, batchScript(argv), { mode: 0o755 });
    } catch (e) {
      return { res: spawnFailure(`cannot prepare attempt: ${(e as Error).message}`), result: undefined };
    }
    await runner.afterDispatchCommit(run.group.group_id);
    const lastArrival = runner.lastArrival(run);
    let jobId: string | null;
    try {
      jobId = await this.submitOnce(run, name, script, abort.signal);
    } catch (e) {
      if (!(e instanceof SlurmRejectedError)) throw e;
      this.ctx.log.error({ err: e, groupId: run.group.group_id }, 'Slurm refused the conversion job');
      return { res: spawnFailure(e.message), result: undefined };
    }
    if (jobId === null) return this.leftOpen(run, 'stopped before Slurm answered the submission');
    await this.recordJob(run, jobId, 'PENDING');
    this.ctx.m.dispatchLatency.observe(Math.max(0, this.ctx.clock.now() - lastArrival) / 1000);
    const end = await this.track(run, jobId, abort, this.ctx.clock.now());
    return (
      end ?? this.leftOpen(run, 'daemon stopping; the Slurm job keeps running and the next start adopts it')
    );
  }

  /** sbatch once (lib/slurm/track.ts): after an unanswered sbatch the name is looked up before any retry. */
  private submitOnce(
    run: AttemptRun,
    name: string,
    script: string,
    signal: AbortSignal,
  ): Promise<string | null> {
    let found = false;
    return submitOnce(this.client, {
      options: this.sbatchOptions(),
      job: { name, dir: run.dir, script, stdoutFile: STDOUT_FILE, stderrFile: STDERR_FILE },
      env: this.host.runner.converterEnv(run),
      policy: 'oldest',
      signal,
      ...this.reach,
      onExtra: (extra) => this.extraJob(run, extra.id, name),
      onFound: (id) => {
        found = true;
        this.foundByName(run, id, name);
      },
    }).then((id) => {
      if (id !== null && !found)
        this.ctx.log.info(
          { groupId: run.group.group_id, attempt: run.attempt, slurmJobId: id, name },
          'Slurm job submitted',
        );
      return id;
    });
  }

  private extraJob(run: AttemptRun, jobId: string, name: string): void {
    this.ctx.log.error(
      { groupId: run.group.group_id, slurmJobId: jobId, name },
      'a second Slurm job for one attempt; cancelling it',
    );
  }

  private foundByName(run: AttemptRun, jobId: string, name: string): void {
    this.ctx.log.warn(
      { groupId: run.group.group_id, slurmJobId: jobId, name },
      'found the attempt’s Slurm job by its name',
    );
  }

  private readonly reach = {
    onAnswered: () => this.answered(),
    onUnreachable: (e: SlurmUnreachableError) => this.unanswered(e),
  };

  private async recordJob(run: AttemptRun, jobId: string, state: string): Promise<void> {
    const { db, clock } = this.ctx;
    await db.writeAsync(
      (conn) => {
        const now = clock.now();
        if (S.recordSlurmJob(conn, run.attemptId, jobId, state, now))
          emit(
            conn,
            'slurm_submitted',
            { groupId: run.group.group_id, attempt: run.attempt, slurmJobId: jobId },
            now,
          );
      },
      { budgetMs: Infinity },
    );
  }

  /** Nothing to settle now (null): the attempt stays open for the next start (or recovery) to take over. */
  private leftOpen(run: AttemptRun, why: string): null {
    this.ctx.log.warn(
      { groupId: run.group.group_id, attempt: run.attempt },
      `Slurm attempt left open: ${why}`,
    );
    return null;
  }

  /**
   * Poll the job until it ends (lib/slurm/track.ts), then say how it ended. A lost lease cancels the job
   * (and still returns what it became: the worker's settle keeps only the attempt's facts then); shutdown
   * leaves it running (null).
   */
  private async track(
    run: AttemptRun,
    jobId: string,
    abort: AbortController,
    submittedAt: number,
    onFirst?: (s: JobStatus | null) => void,
  ): Promise<Settle | null> {
    const { m } = this.ctx;
    const group = run.group.group_id;
    // The worker's one abort, split by its reason: a lost lease kills the job, anything else detaches.
    const kill = new AbortController();
    const detach = new AbortController();
    const split = () => (leaseLost(abort) ? kill : detach).abort(abort.signal.reason);
    if (abort.signal.aborted) split();
    else abort.signal.addEventListener('abort', split, { once: true });
    let last: string | null = null;
    try {
      const end = await trackUntilEnded(this.client, jobId, {
        pollMs: this.pollMs,
        accountingPollMs: Math.min(this.pollMs, 2000),
        kill: kill.signal,
        detach: detach.signal,
        now: () => this.ctx.clock.now(),
        ...this.reach,
        onStatus: (s, first) => first && onFirst?.(s),
        onState: (s, prev) => {
          if (prev !== null) m.slurmJobs.dec({ state: prev });
          m.slurmJobs.inc({ state: s.phase.state });
          last = s.phase.state;
          if (s.phase.phase === 'running' && (prev === null || prev === 'PENDING'))
            m.slurmQueueWait.observe(Math.max(0, this.ctx.clock.now() - submittedAt) / 1000);
          const state = s.phase.state;
          this.ctx.db.write((c) => S.recordSlurmState(c, run.attemptId, state));
          this.ctx.log.info({ groupId: group, slurmJobId: jobId, state }, 'Slurm job state');
        },
        onCancelFailed: (e) =>
          this.ctx.log.warn({ err: e, groupId: group, slurmJobId: jobId }, 'scancel failed; trying again'),
      });
      if (!end) return null;
      const ours = end.stoppedBy !== null || leaseLost(abort) || this.leaseGone(run);
      return this.facts(run, jobId, end.status, ours, submittedAt);
    } finally {
      abort.signal.removeEventListener('abort', split);
      if (last !== null) m.slurmJobs.dec({ state: last });
    }
  }

  /**
   * The conversions job is no longer running under this attempt's lease (an operator abandoned the group
   * or cancelled the job): a CANCELLED Slurm job was the operator's stop, not a failure to retry.
   */
  private leaseGone(run: AttemptRun): boolean {
    const job = this.ctx.db.read((c) => jobIn(c, run.lease.jobId));
    return job?.state !== 'running' || job.leaseToken !== run.lease.token;
  }

  /** The ended job's facts: its state and exit code, the logs and result file in the attempt directory. */
  private facts(
    run: AttemptRun,
    jobId: string,
    s: JobStatus | null,
    cancelledByUs: boolean,
    since: number,
  ): Settle {
    const logs = {
      stdoutTail: readTail(path.join(run.dir, STDOUT_FILE)),
      stderrTail: readTail(path.join(run.dir, STDERR_FILE)),
    };
    const result = usesPlaceholder(this.ctx.cfg.converter.argv, 'result')
      ? readResult(path.join(run.dir, RESULT_FILE))
      : undefined;
    const durationMs = Math.max(0, this.ctx.clock.now() - since);
    const known: AttemptFacts = { res: { ...UNSEEN, ...logs, durationMs }, result, exitKnown: false };
    if (!s || s.phase.phase !== 'ended' || (s.phase.end === 'exited' && s.exitCode === null))
      return this.host.runner.lostExit(run, known, `Slurm has no exit status for job ${jobId}`);
    const end = slurmEndFacts({ ...s.phase, exitCode: s.exitCode, signal: s.signal }, cancelledByUs);
    return {
      res: { ...known.res, ...end.res },
      result,
      verdict: end.verdict,
      retryPolicy: end.retryPolicy,
    };
  }

  /**
   * After a restart (or an expired lease): track the row's job, or the job found by name when the id never
   * reached the row; a job that never existed means the daemon died before sbatch: crashed, retried at once.
   */
  async adopt(a: OpenAttempt, run: AttemptRun, signal: AbortSignal): Promise<boolean> {
    const { log, m } = this.ctx;
    const group = run.group.group_id;
    const body = async (abort: AbortController): Promise<Settle | null> => {
      const jobId = a.slurm_job_id ?? (await this.findAdopted(run, a, abort.signal));
      if (jobId === undefined) return this.leftOpen(run, 'stopped while looking for the job');
      if (jobId === null) {
        m.recovered.inc({ child: 'dead' });
        const verdict = {
          outcome: 'crashed' as const,
          error: 'daemon stopped before the Slurm job was submitted',
        };
        return { res: UNSEEN, result: undefined, verdict, retryPolicy: RETRY_NOW };
      }
      const end = await this.track(run, jobId, abort, a.spawned_at ?? a.started_at, (s) =>
        m.recovered.inc({ child: s && s.phase.phase !== 'ended' ? 'adopted' : 'finished' }),
      );
      return end ?? this.leftOpen(run, 'daemon stopping; the next start adopts the job');
    };
    const detail = { executor: 'slurm', slurmJobId: a.slurm_job_id, slurmJobName: a.slurm_job_name };
    if (await this.host.adopt(run, detail, body, signal)) {
      log.warn(
        { groupId: group, attempt: a.attempt, slurmJobId: a.slurm_job_id },
        'adopted a Slurm job from a previous run',
      );
      return true;
    }
    // Claimed since or cancelled (abandoned): stop its job if it still runs and keep only the attempt's facts.
    try {
      await this.cancel(a);
      const s = a.slurm_job_id ? await this.client.status(a.slurm_job_id) : null;
      await this.host.settleFound(
        run,
        this.facts(run, a.slurm_job_id ?? '?', s, true, a.spawned_at ?? a.started_at),
      );
      return true;
    } catch (e) {
      if (!(e instanceof SlurmUnreachableError)) throw e;
      this.unanswered(e);
      return false;
    }
  }

  /** The job of an attempt whose id never reached the row: by name, retried while the controller is down. */
  private async findAdopted(
    run: AttemptRun,
    a: OpenAttempt,
    signal: AbortSignal,
  ): Promise<string | null | undefined> {
    const name = a.slurm_job_name;
    if (!name) return null;
    return whileUnreachable(
      async () => {
        const id = await findByName(this.client, name, 'oldest', (x) => this.extraJob(run, x.id, name));
        if (id) {
          this.foundByName(run, id, name);
          await this.recordJob(run, id, 'UNKNOWN');
        }
        return id;
      },
      signal,
      this.reach,
    );
  }

  /** The controller did not answer: alert once (resolved on the next answer), log each time. */
  private unanswered(e: SlurmUnreachableError): void {
    const { db, clock, log, m } = this.ctx;
    m.slurmUp.set(0);
    log.warn({ err: e, retryInMs: e.retryInMs }, 'Slurm controller unreachable; retrying');
    if (!this.reachable) return;
    this.reachable = false;
    db.write((conn) =>
      alert(
        conn,
        ALERT,
        'critical',
        {},
        `Slurm controller unreachable (${e.message}); conversions wait and are not submitted twice`,
        clock.now(),
      ),
    );
  }

  private answered(): void {
    const { db, clock, log, m } = this.ctx;
    m.slurmUp.set(1);
    if (this.reachable) return;
    this.reachable = true;
    db.write((conn) => resolve(conn, ALERT, {}, clock.now()));
    log.info('Slurm controller answers again');
  }
}
