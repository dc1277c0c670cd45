// A mosaic build as a Slurm batch job, on lib/slurm (the client the converter's Slurm executor uses: sbatch
// with an argument array, squeue, sacct or its completion file, scancel, failures as retry decisions). The
// job's name is deterministic, contimg-mosaic-<plan>-<attempt>, and is written in the claim's transaction, so
// a job whose id never reached the row (sbatch unanswered, or the daemon died right after it) is found again
// by name and adopted, never submitted twice. The attempt directory is the job's cwd; its batch script execs
// the builder's argv; stdout.log and stderr.log land there. The dispatcher enforces the tier's deadline
// itself with scancel (Slurm checks --time only every minute or so). Shutdown leaves the job running (the
// next start adopts it); a lost lease (an operator's cancel) scancels it.
import fs from 'node:fs';
import path from 'node:path';
import { pause } from '../../../lib/clock.js';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import type { Db } from '../../../lib/db/index.js';
import { SlurmUnreachableError } from '../../../lib/errors.js';
import { readTail, STDERR_FILE, STDOUT_FILE } from '../../../lib/exec/attempt-files.js';
import { UNSEEN } from '../../../lib/exec/supervised.js';
import type { Logger } from '../../../lib/log.js';
import {
  batchScript,
  minutesLimit,
  SlurmClient,
  type JobStatus,
  type SbatchOptions,
} from '../../../lib/slurm/index.js';
import { BUILD_EXIT } from '../../../lib/mosaic/manifest.js';
import { timeoutSOf, removePartials, type BuildRun } from './dispatch-local.js';
import type { DispatchMetrics } from './dispatch-metrics.js';
import { isFile, readResultFile, type BuildEnd } from './dispatch-outcome.js';
import { RETRY_NOW } from './dispatch-jobs.js';
import * as S from './dispatch-store.js';

export const BATCH_SCRIPT = 'job.sh';
/** Polls to wait for an ended job's exit code from accounting before the files decide. */
const ACCOUNTING_POLLS = 5;

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
    let uncertain = false;
    let jobId: string | null = null;
    const submittedAt = this.now();
    while (jobId === null) {
      if (detach.aborted || kill.aborted)
        return detach.aborted ? null : this.collect(run, null, { aborted: true });
      try {
        if (uncertain) jobId = await this.byName(name);
        jobId ??= await this.client.submit(
          this.options(run),
          { name, dir: run.dir, script, stdoutFile: STDOUT_FILE, stderrFile: STDERR_FILE },
          env,
        );
      } catch (e) {
        if (!(e instanceof SlurmUnreachableError)) throw e;
        if (e.details.command === 'sbatch') uncertain = true;
        this.log.warn({ err: e, plan: run.plan.name }, 'Slurm controller unreachable; retrying');
        await pause(e.retryInMs, detach);
      }
    }
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
    let jobId = a.slurm_job_id;
    while (jobId === null && a.slurm_job_name) {
      if (detach.aborted) return null;
      try {
        jobId = await this.byName(a.slurm_job_name);
        if (jobId === null) break;
        this.record(run, jobId, 'UNKNOWN');
        this.log.warn(
          { plan: run.plan.name, slurmJobId: jobId },
          'found the mosaic build’s Slurm job by its name',
        );
      } catch (e) {
        if (!(e instanceof SlurmUnreachableError)) throw e;
        await pause(e.retryInMs, detach);
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

  /**
   * The attempt's job by its name: the newest one Slurm still runs, else the newest that ended (an older job
   * of the same name is a leftover of a recreated database, never this attempt's). A second live one, against
   * every rule, is cancelled.
   */
  private async byName(name: string): Promise<string | null> {
    const jobs = (await this.client.byName(name)).sort((x, y) => Number(y.id) - Number(x.id));
    const live = jobs.filter((j) => j.phase.phase !== 'ended');
    for (const extra of live.slice(1)) {
      this.log.error(
        { slurmJobId: extra.id, name },
        'a second Slurm job for one mosaic attempt; cancelling it',
      );
      await this.client.cancel(extra.id);
    }
    return (live[0] ?? jobs[0])?.id ?? null;
  }

  private record(run: BuildRun, jobId: string, state: string): void {
    this.db.write((c) => S.recordSlurmJob(c, run.attemptId, jobId, state, this.now()));
  }

  /** Poll until the job ends; scancel at our own deadline or on `kill`; null on `detach`. */
  private async track(
    run: BuildRun,
    jobId: string,
    since: number,
    kill: AbortSignal,
    detach: AbortSignal,
  ): Promise<BuildEnd | null> {
    const deadline = since + timeoutSOf(this.cfg, run.plan) * 1000;
    let last: string | null = null;
    let stoppedBy: 'deadline' | 'kill' | null = null;
    let accountingWaits = 0;
    for (;;) {
      if (detach.aborted) return null;
      if (stoppedBy === null && (kill.aborted || this.now() >= deadline)) {
        stoppedBy = kill.aborted ? 'kill' : 'deadline';
        try {
          await this.client.cancel(jobId);
        } catch (e) {
          stoppedBy = null; // try again at the next poll
          this.log.warn({ err: e, slurmJobId: jobId }, 'scancel failed; trying again');
        }
      }
      let s: JobStatus | null;
      try {
        s = await this.client.status(jobId);
      } catch (e) {
        if (!(e instanceof SlurmUnreachableError)) throw e;
        await pause(Math.max(this.pollMs, e.retryInMs), detach);
        continue;
      }
      if (s && s.phase.state !== last) {
        if ((last === null || last === 'PENDING') && s.phase.phase !== 'pending')
          this.m.slurmPending.observe(Math.max(0, this.now() - since) / 1000);
        last = s.phase.state;
        const state = last;
        this.db.write((c) => S.recordSlurmState(c, run.attemptId, state));
      }
      const ended = !s || s.phase.phase === 'ended';
      if (ended && s && s.exitCode === null && accountingWaits++ < ACCOUNTING_POLLS) {
        await pause(Math.min(this.pollMs, 1000));
        continue;
      }
      if (ended) return this.collect(run, s, { stoppedBy, since });
      await pause(this.pollMs, stoppedBy === null ? AbortSignal.any([kill, detach]) : detach);
    }
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
    const ids = a.slurm_job_id
      ? [a.slurm_job_id]
      : a.slurm_job_name
        ? (await this.client.byName(a.slurm_job_name)).map((j) => j.id)
        : [];
    for (const id of ids) await this.client.cancel(id);
  }
}
