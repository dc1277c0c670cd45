// A mosaic build as a Slurm batch job, on lib/slurm: the client and the submit-once/track-until-ended logic
// (lib/slurm/track.ts) the converter's Slurm executor uses too; only the naming, the row writes and the
// outcome classification are the dispatcher's own. The
// job's name is deterministic, contimg-mosaic-<plan>-<attempt>, and is written in the claim's transaction, so
// a job whose id never reached the row (sbatch unanswered, or the daemon died right after it) is found again
// by name and adopted, never submitted twice. The attempt directory is the job's cwd; its batch script execs
// the builder's argv; stdout.log and stderr.log land there. The dispatcher enforces the tier's deadline
// itself with scancel (Slurm checks --time only every minute or so). Shutdown leaves the job running (the
// next start adopts it); a lost lease (an operator's cancel) scancels it.
import fs from 'node:fs';
import path from 'node:path';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import type { Db } from '../../../lib/db/index.js';
import { readTail, STDERR_FILE, STDOUT_FILE } from '../../../lib/exec/attempt-files.js';
import { UNSEEN } from '../../../lib/exec/supervised.js';
import type { Logger } from '../../../lib/log.js';
import {
  batchScript,
  minutesLimit,
  SlurmClient,
  type JobStatus,
  type SbatchOptions,
  cancelByIdOrName,
  findByName,
  submitOnce,
  trackUntilEnded,
  whileUnreachable,
} from '../../../lib/slurm/index.js';
import { BUILD_EXIT } from '../../../lib/mosaic/manifest.js';
import { timeoutSOf, removePartials, type BuildRun } from './dispatch-local.js';
import type { DispatchMetrics } from './dispatch-metrics.js';
import { isFile, readResultFile, type BuildEnd } from './dispatch-outcome.js';
import { RETRY_NOW } from './dispatch-jobs.js';
import * as S from './dispatch-store.js';

export const BATCH_SCRIPT = 'job.sh';

/** contimg-mosaic-<plan>-<attempt>: plan names carry no whitespace (sacct's file reader splits on it). */
export function mosaicJobName(planName: string, attempt: number): string {
  return `contimg-mosaic-${planName.replace(/\s/g, '_')}-${attempt}`;
}

type SlurmExecutor = Extract<MosaicConfig['builder']['executor'], { kind: 'slurm' }>;

export class SlurmBuilds {
  readonly client: SlurmClient;

  constructor(
    private readonly cfg: MosaicConfig,
    private readonly db: Db,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly m: DispatchMetrics,
  ) {
    const ex = cfg.builder.executor;
    this.client = new SlurmClient({
      slurmConf: ex.kind === 'slurm' ? ex.slurmConf : undefined,
      timeoutMs: 20_000,
    });
  }

  private get ex(): SlurmExecutor | null {
    const ex = this.cfg.builder.executor;
    return ex.kind === 'slurm' ? ex : null;
  }

  private get pollMs(): number {
    return (this.ex?.pollS ?? 5) * 1000;
  }

  private options(run: BuildRun): SbatchOptions {
    const ex = this.ex;
    if (!ex) throw new Error('scheduler.mosaic.builder.executor is not slurm');
    return {
      partition: ex.partition,
      account: ex.account,
      qos: ex.qos,
      cpusPerTask: ex.cpusPerTask ?? this.cfg.builder.cpus,
      memGb: ex.memGb ?? this.cfg.builder.memoryMaxGb,
      timeLimit: ex.timeLimit ?? minutesLimit(timeoutSOf(this.cfg, run.plan) + 60),
      sbatchArgs: ex.sbatchArgs,
    };
  }

  /**
   * Submit the build (after the argv and manifest were prepared) and track it to its end. Null: left running
   * at shutdown (`detach`), nothing to settle now.
   */
  async submit(
    run: BuildRun,
    argv: string[],
    env: NodeJS.ProcessEnv,
    name: string,
    kill: AbortSignal,
    detach: AbortSignal,
  ): Promise<BuildEnd | null> {
    const script = path.join(run.dir, BATCH_SCRIPT);
    fs.writeFileSync(script, batchScript(argv), { mode: 0o755 });
    const submittedAt = this.now();
    const jobId = await submitOnce(this.client, {
      options: this.options(run),
      job: { name, dir: run.dir, script, stdoutFile: STDOUT_FILE, stderrFile: STDERR_FILE },
      env,
      policy: 'newest-live',
      signal: AbortSignal.any([kill, detach]),
      onUnreachable: (e) =>
        this.log.warn({ err: e, plan: run.plan.name }, 'Slurm controller unreachable; retrying'),
      onExtra: (extra) => this.extraJob(extra.id, name),
    });
    if (jobId === null) return detach.aborted ? null : this.collect(run, null, { aborted: true });
    this.record(run, jobId, 'PENDING');
    this.log.info(
      { plan: run.plan.name, attempt: run.attempt, slurmJobId: jobId, name },
      'mosaic Slurm job submitted',
    );
    return this.track(run, jobId, submittedAt, kill, detach);
  }

  /** An adopted attempt: the row's job, or the one found by name; none at all → crashed before sbatch. */
  async adopt(
    run: BuildRun,
    a: S.AttemptRow,
    kill: AbortSignal,
    detach: AbortSignal,
  ): Promise<BuildEnd | null> {
    const name = a.slurm_job_name;
    let jobId = a.slurm_job_id;
    if (jobId === null && name) {
      const found = await whileUnreachable(
        () => findByName(this.client, name, 'newest-live', (x) => this.extraJob(x.id, name)),
        detach,
      );
      if (found === undefined) return null;
      jobId = found;
      if (jobId !== null) {
        this.record(run, jobId, 'UNKNOWN');
        this.log.warn(
          { plan: run.plan.name, slurmJobId: jobId },
          'found the mosaic build’s Slurm job by its name',
        );
      }
    }
    if (jobId === null) {
      const end = this.collect(run, null, {});
      end.forced = {
        outcome: 'crashed',
        errorCode: 'crashed',
        error: 'dispatcher stopped before the Slurm job was submitted',
        retryable: true,
        retryPolicy: RETRY_NOW,
      };
      return end;
    }
    return this.track(run, jobId, a.spawned_at ?? a.started_at, kill, detach);
  }

  private extraJob(jobId: string, name: string): void {
    this.log.error({ slurmJobId: jobId, name }, 'a second Slurm job for one mosaic attempt; cancelling it');
  }

  private record(run: BuildRun, jobId: string, state: string): void {
    this.db.write((c) => S.recordSlurmJob(c, run.attemptId, jobId, state, this.now()));
  }

  /** Poll until the job ends (lib/slurm/track.ts); scancel at our own deadline or on `kill`; null on `detach`. */
  private async track(
    run: BuildRun,
    jobId: string,
    since: number,
    kill: AbortSignal,
    detach: AbortSignal,
  ): Promise<BuildEnd | null> {
    const end = await trackUntilEnded(this.client, jobId, {
      pollMs: this.pollMs,
      accountingPollMs: Math.min(this.pollMs, 1000),
      kill,
      detach,
      deadline: since + timeoutSOf(this.cfg, run.plan) * 1000,
      now: this.now,
      onState: (s, prev) => {
        if ((prev === null || prev === 'PENDING') && s.phase.phase !== 'pending')
          this.m.slurmPending.observe(Math.max(0, this.now() - since) / 1000);
        const state = s.phase.state;
        this.db.write((c) => S.recordSlurmState(c, run.attemptId, state));
      },
      onCancelFailed: (e) => this.log.warn({ err: e, slurmJobId: jobId }, 'scancel failed; trying again'),
    });
    return end && this.collect(run, end.status, { stoppedBy: end.stoppedBy, since });
  }

  /** The job's end as a BuildEnd: Slurm's state and exit code, the logs, the result and the outputs. */
  private collect(
    run: BuildRun,
    s: JobStatus | null,
    o: { stoppedBy?: 'deadline' | 'kill' | null; since?: number; aborted?: boolean },
  ): BuildEnd {
    const { result, error } = readResultFile(run.paths.result);
    const outputsExist = isFile(run.paths.fits) && isFile(run.paths.weights);
    const res = {
      ...UNSEEN,
      stdoutTail: readTail(path.join(run.dir, STDOUT_FILE)),
      stderrTail: readTail(path.join(run.dir, STDERR_FILE)),
      durationMs: o.since === undefined ? 0 : Math.max(0, this.now() - o.since),
      exitCode: s?.exitCode ?? null,
      aborted: o.aborted === true || o.stoppedBy === 'kill',
      timedOut: o.stoppedBy === 'deadline',
    };
    const end: BuildEnd = {
      res,
      exitKnown: s !== null && s.exitCode !== null,
      result,
      resultError: error,
      outputsExist,
    };
    if (!(res.exitCode === 0 && result?.ok && outputsExist)) removePartials(run.paths);
    if (!s || s.phase.phase !== 'ended' || res.aborted || res.timedOut) return end;
    const why = (t: string) => `Slurm job ${s.phase.state}: ${t}`;
    switch (s.phase.end) {
      case 'timeout':
        end.res = { ...res, timedOut: true };
        break;
      case 'oom':
        end.res = { ...res, exitCode: BUILD_EXIT.oom };
        break;
      case 'cancelled':
        end.forced = {
          outcome: 'cancelled',
          errorCode: 'cancelled',
          error: why('cancelled outside the dispatcher (scancel)'),
          retryable: false,
          cancelled: true,
        };
        break;
      case 'node_fail':
      case 'preempted':
        end.forced = {
          outcome: 'crashed',
          errorCode: 'crashed',
          error: why(s.phase.end === 'preempted' ? 'preempted' : 'its node failed'),
          retryable: true,
          retryPolicy: RETRY_NOW,
        };
        break;
      case 'exited':
        if (s.exitCode === null)
          end.forced = {
            outcome: 'crashed',
            errorCode: 'crashed',
            error: why('no exit code recorded'),
            retryable: true,
            retryPolicy: RETRY_NOW,
          };
        break;
      case 'other':
        end.forced = { outcome: 'failed', errorCode: 'failed', error: why('ended'), retryable: true };
        break;
    }
    return end;
  }

  /** scancel the attempt's job(s) (an operator's cancel while no dispatcher tracks it). Idempotent. */
  async cancel(a: Pick<S.AttemptRow, 'slurm_job_id' | 'slurm_job_name'>): Promise<void> {
    await cancelByIdOrName(this.client, a);
  }
}
