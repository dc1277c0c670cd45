// One conversion attempt from start to end. The dispatcher starts the converter under the supervisor
// (supervise.ts); after a restart, recovery hands over an attempt whose supervisor is still running. Either
// way, when it ends, what the attempt directory says (exit.json, the output, the result file, the logs) is
// what the attempt is settled with: the queue worker heartbeats the job's lease meanwhile and settles it
// (dispatch.ts, outcome.ts). Live and adopted attempts differ only in how the end is awaited: the child's
// exit, or polling the supervisor's pid.
import fs from 'node:fs';
import path from 'node:path';
import { env as processEnv } from 'node:process';
import type { Lease } from '../../lib/queue/index.js';
import type { Exec } from '../../lib/slurm/index.js';
import { expandArgv, usesPlaceholder } from './argv.js';
import { clearAttemptFiles, RESULT_FILE, type SupervisorRecord } from '../../lib/exec/attempt-files.js';
import type { ChildResult } from '../../lib/exec/child.js';
import { ATTEMPT_MARKER, pidStartTicks } from '../../lib/exec/procs.js';
import { awaitSupervisor, collectExit, runSupervised, stopMarked } from '../../lib/exec/supervised.js';
import type { Ctx } from './context.js';
import { RETRY_NOW } from './jobs.js';
import { readResult, spawnFailure, successWithoutExit, type Finished, type ResultFile } from './outcome.js';
import * as S from './store.js';

/** One attempt of one group, as the dispatcher claimed it (or recovery found it). */
export interface AttemptRun {
  group: S.GroupRow;
  attemptId: number;
  attempt: number;
  /** attemptKey(row): the supervisor's files carry it. */
  key: string;
  /** The attempt directory: the supervisor's and the converter's cwd, and the marker's value. */
  dir: string;
  out: string;
  lease: Lease;
}

export interface RunnerHooks {
  /** Test fault: called after the dispatch transaction committed and before the supervisor starts. */
  afterDispatchCommit?: (groupId: string) => void | Promise<void>;
  /** Environment for the converter (process.env from main.ts, plus converter.env). */
  baseEnv?: NodeJS.ProcessEnv;
  /** How the Slurm executor runs sbatch/squeue/sacct/scancel (execFile by default; the bench counts calls). */
  slurmExec?: Exec;
}

/** What an ended attempt left: the exit status when its supervisor recorded one, the logs, the result. */
export interface AttemptFacts {
  res: ChildResult;
  result: ResultFile;
  exitKnown: boolean;
}

export type Settle = Pick<Finished, 'res' | 'result' | 'verdict' | 'retryPolicy' | 'also'>;

/**
 * An attempt's work as the queue worker's handler runs it (an executor's submit, or an adopted attempt's
 * watch): resolves with how it ended, or with null when the work goes on outside this process and nothing is
 * to be settled now (a Slurm job at shutdown: the lease expires and the next start adopts it). `abort` is
 * aborted with the worker's reason (ShutdownError at the drain, LeaseLostError when the lease was lost).
 */
export type AttemptBody = (abort: AbortController) => Promise<Settle | null>;

export class AttemptRunner {
  constructor(
    private readonly ctx: Ctx,
    private readonly hooks: RunnerHooks,
    /** The converter runs and its pid is in the attempt row (the dispatcher logs it). */
    private readonly started: (run: AttemptRun, pid: number, argv: string[]) => void,
  ) {}

  /**
   * The attempt directory made ready (manifest written, an earlier run's files and partial output removed)
   * and the converter's argv expanded; throws when the directory cannot be prepared.
   */
  prepare(run: AttemptRun): string[] {
    const { cfg } = this.ctx;
    fs.mkdirSync(cfg.outputDir, { recursive: true });
    const manifest = this.writeManifest(run);
    clearAttemptFiles(run.dir);
    fs.rmSync(`${run.out}.partial`, { recursive: true, force: true });
    return expandArgv(cfg.converter.argv, {
      manifest,
      out: run.out,
      result: path.join(run.dir, RESULT_FILE),
      scratch: run.dir,
      group: run.group.group_id,
    });
  }

  /** The converter's environment: the daemon's (or a test's), converter.env, and the attempt's marker. */
  converterEnv(run: AttemptRun): NodeJS.ProcessEnv {
    return {
      ...(this.hooks.baseEnv ?? processEnv),
      ...this.ctx.cfg.converter.env,
      [ATTEMPT_MARKER]: run.dir,
    };
  }

  /** The test fault between the dispatch commit and the start of the attempt's work (none in production). */
  async afterDispatchCommit(groupId: string): Promise<void> {
    await this.hooks.afterDispatchCommit?.(groupId);
  }

  /** When the group's last member arrived (its mtime or first sighting): the dispatch latency's start. */
  lastArrival(run: AttemptRun): number {
    return this.ctx.db
      .read((c) => S.validMembers(c, run.group.id))
      .reduce((t, f) => Math.max(t, f.mtime_ms, f.first_seen_at), 0);
  }

  /** Start the converter under the supervisor; resolves with how the attempt ended. */
  async spawn(run: AttemptRun, abort: AbortController): Promise<Settle> {
    const { cfg, clock } = this.ctx;
    const g = run.group;
    let argv: string[];
    try {
      argv = this.prepare(run);
    } catch (e) {
      return { res: spawnFailure(`cannot prepare attempt: ${(e as Error).message}`), result: undefined };
    }
    await this.afterDispatchCommit(g.group_id);
    const lastArrival = this.lastArrival(run);
    // The pid write waits out a lock for as long as the supervisor runs: the attempt directory's marker
    // already makes the converter findable, so a slow write is no reason to stop a healthy converter.
    const pidWrite = new AbortController();
    let recorded: Promise<string | null> = Promise.resolve(null);
    try {
      const seen = await runSupervised({
        key: run.key,
        dir: run.dir,
        argv,
        env: this.converterEnv(run),
        timeoutMs: cfg.converter.timeoutS * 1000,
        killGraceMs: cfg.killGraceS * 1000,
        signal: abort.signal,
        now: () => clock.now(),
        onSpawn: (pid) => {
          recorded = this.recordSpawn(run, pid, argv, lastArrival, abort, pidWrite.signal);
        },
      });
      pidWrite.abort();
      const unrecorded = await recorded;
      if (unrecorded !== null) return { res: spawnFailure(unrecorded), result: undefined };
      return this.collect(run, seen);
    } finally {
      pidWrite.abort();
    }
  }

  /**
   * The attempt row gets the supervisor's pid (its process group) and start ticks. A database that refuses
   * the row outright (not a lock) gets the converter stopped: the attempt fails as spawn_error.
   */
  private async recordSpawn(
    run: AttemptRun,
    pid: number,
    argv: string[],
    lastArrival: number,
    abort: AbortController,
    stop: AbortSignal,
  ): Promise<string | null> {
    const { db, clock } = this.ctx;
    const g = run.group;
    const now = clock.now();
    const row = { pid, pgid: pid, pid_start_ticks: pidStartTicks(pid) };
    try {
      await db.writeAsync((c) => S.recordSpawn(c, run.attemptId, row, now), {
        budgetMs: Infinity,
        signal: stop,
      });
    } catch (e) {
      // Stopped waiting because the supervisor has already ended (or we are stopping): nothing to record.
      if (stop.aborted) return null;
      this.ctx.log.error({ err: e, groupId: g.group_id, pid }, 'cannot record converter pid; stopping it');
      abort.abort();
      return `cannot record the converter's pid: ${(e as Error).message}`;
    }
    this.ctx.m.dispatchLatency.observe(Math.max(0, now - lastArrival) / 1000);
    this.started(run, pid, argv);
    return null;
  }

  /**
   * Await an adopted attempt whose supervisor (not our child) is still running, with the converter's
   * timeout counted from its spawn; resolves with how it ended, like a live one.
   */
  async watch(
    run: AttemptRun,
    sup: SupervisorRecord,
    spawnedAt: number,
    abort: AbortController,
  ): Promise<Settle> {
    const seen = await this.awaitSupervisor(sup, spawnedAt, abort.signal);
    // A supervisor that died without recording the end (SIGKILLed) may have left its converter running.
    await this.stopMarked(run);
    const facts = this.collect(run, seen);
    return facts.exitKnown ? facts : this.lostExit(run, facts, 'supervisor died without recording the end');
  }

  private awaitSupervisor(
    sup: SupervisorRecord,
    spawnedAt: number,
    signal: AbortSignal,
  ): Promise<ChildResult> {
    const { cfg, clock } = this.ctx;
    return awaitSupervisor(sup, {
      spawnedAt,
      deadline: spawnedAt + cfg.converter.timeoutS * 1000,
      killGraceMs: cfg.killGraceS * 1000,
      now: () => clock.now(),
      signal,
    });
  }

  /**
   * Stop whatever still runs with this attempt's marker (and the process groups `extra` names); true when
   * nothing is left. An abort of `signal` (shutdown) cuts the SIGTERM grace short.
   */
  stopMarked(
    run: Pick<AttemptRun, 'dir'>,
    extra: () => number[] = () => [],
    signal?: AbortSignal,
  ): Promise<boolean> {
    const { cfg, clock } = this.ctx;
    return stopMarked({
      dir: run.dir,
      extra,
      killGraceMs: cfg.killGraceS * 1000,
      monotonic: () => clock.monotonic(),
      signal,
    });
  }

  /** What the attempt directory says about how the attempt ended, over what the daemon itself saw. */
  collect(run: AttemptRun, seen: ChildResult): AttemptFacts {
    const result = usesPlaceholder(this.ctx.cfg.converter.argv, 'result')
      ? readResult(path.join(run.dir, RESULT_FILE))
      : undefined;
    return { ...collectExit(run.dir, run.key, seen), result };
  }

  /**
   * No exit status: success if the files show it (output + result ok), otherwise a crash that was not the
   * converter's fault as far as anyone can tell, retried at once.
   */
  lostExit(run: AttemptRun, facts: AttemptFacts, why: string): Settle {
    if (successWithoutExit(this.ctx, run.out, facts.result))
      return { ...facts, verdict: { outcome: 'ok', error: null } };
    return { ...facts, verdict: { outcome: 'crashed', error: why }, retryPolicy: RETRY_NOW };
  }

  private writeManifest(run: AttemptRun): string {
    const g = run.group;
    const members = this.ctx.db.read((c) => S.validMembers(c, g.id));
    const manifest = {
      group_id: g.group_id,
      attempt: run.attempt,
      expected_subbands: g.expected,
      partial: g.partial === 1,
      files: members.map((f) => ({
        subband: f.subband,
        path: f.path,
        size: f.size,
        mtime_ms: f.mtime_ms,
        inode: f.inode,
      })),
      output_path: run.out,
      partial_path: `${run.out}.partial`,
      header: { dec_rad: g.dec_rad, mid_jd: g.mid_jd },
    };
    fs.mkdirSync(run.dir, { recursive: true });
    const p = path.join(run.dir, 'manifest.json');
    fs.writeFileSync(`${p}.tmp`, JSON.stringify(manifest, null, 2));
    fs.renameSync(`${p}.tmp`, p);
    return p;
  }
}
