// The mosaic build dispatcher, hosted by the scheduler (docs/mosaic-dispatch.md): the `mosaic` queue's
// worker (lib/queue) claims due build jobs up to builder.maxConcurrent behind a gate (disk space, operator
// pause, and any expired running job with an open attempt, which only recovery may take over). Inside the
// claim's transaction onClaim moves the plan queued|retry_wait → building and inserts its attempt row keyed
// to (job id, lease token); the one-open-attempt index makes two builders for one plan impossible to record.
// The handler writes the manifest and runs the builder under the supervisor (dispatch-local.ts, lib/exec) or
// as a Slurm job named contimg-mosaic-<plan>-<attempt> (dispatch-slurm.ts, lib/slurm);
// the worker heartbeats the lease; the end is classified (dispatch-outcome.ts) and settled with the queue's
// decision in one transaction. At shutdown a running build is left running (outside the daemon's process
// group, or on Slurm): nothing is recorded, its lease expires, and the next start adopts it (dispatch-recovery.ts).
import type { Clock } from '../../../lib/clock.js';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import type { Connection, Db } from '../../../lib/db/index.js';
import { statfsFree } from '../../../lib/disk.js';
import { ShutdownError } from '../../../lib/errors.js';
import { attemptKey } from '../../../lib/exec/attempt-files.js';
import { pidStartTicks } from '../../../lib/exec/procs.js';
import { UNSEEN } from '../../../lib/exec/supervised.js';
import { leaseOwner } from '../../../lib/leases/index.js';
import type { Logger } from '../../../lib/log.js';
import type { Registry } from '../../../lib/metrics.js';
import {
  Settle,
  skipClaim,
  SqliteQueueStore,
  Worker,
  type ClaimedJob,
  type SettleEvent,
  type Settlement,
  type SkipClaim,
} from '../../../lib/queue/index.js';
import { maskArgv } from '../../../lib/redact.js';
import type { BuildClaim } from './dispatch-claim.js';
import { DispatchGate } from './dispatch-gate.js';
import { buildRetryPolicy, MOSAIC_QUEUE, MosaicBuildJob, type MosaicBuildPayload } from './dispatch-jobs.js';
import {
  attemptDir,
  LocalBuilds,
  pathsOf,
  prepare,
  untilDetached,
  type BuildRun,
  type LocalHooks,
} from './dispatch-local.js';
import { dispatchMetrics, type DispatchMetrics } from './dispatch-metrics.js';
import { classify, emit, settlePlan, type BuildEnd } from './dispatch-outcome.js';
import { recoverAll } from './dispatch-recovery.js';
import { mosaicJobName, SlurmBuilds } from './dispatch-slurm.js';
import * as S from './dispatch-store.js';

export type { BuildClaim } from './dispatch-claim.js';

export interface DispatcherDeps {
  cfg: MosaicConfig;
  db: Db;
  clock: Clock;
  log: Logger;
  registry: Registry;
  /** Aborting it stops claiming; running builds are left running (adopted by the next start). */
  signal: AbortSignal;
  hooks?: LocalHooks & {
    /** Free bytes of a path (fs.statfs by default); tests pass a fake to exercise the gate. */
    freeBytes?: (p: string) => number;
    /** How often the gate is looked at while nothing is claimable (ms). */
    gateEveryMs?: number;
  };
}

export class MosaicDispatcher {
  readonly owner = leaseOwner('scheduler-mosaic');
  readonly store: SqliteQueueStore;
  readonly worker: Worker<MosaicBuildPayload, BuildClaim>;
  readonly m: DispatchMetrics;
  readonly gate: DispatchGate;
  /** For recovery (dispatch-recovery.ts). */
  readonly local: LocalBuilds;
  readonly slurm: SlurmBuilds;
  private recovering: Promise<number> | null = null;
  private readonly hardStop = new AbortController();

  constructor(readonly d: DispatcherDeps) {
    const { cfg, db, clock, log } = d;
    this.m = dispatchMetrics(d.registry);
    this.store = new SqliteQueueStore(db, { clock, retryPolicy: buildRetryPolicy(cfg.builder) });
    this.gate = new DispatchGate({
      cfg,
      db,
      clock,
      log,
      m: this.m,
      freeBytes: d.hooks?.freeBytes ?? statfsFree,
    });
    this.local = new LocalBuilds(
      cfg,
      () => clock.now(),
      () => clock.monotonic(),
      d.hooks ?? {},
    );
    this.slurm = new SlurmBuilds(cfg, db, () => clock.now(), log, this.m);
    this.worker = new Worker<MosaicBuildPayload, BuildClaim>({
      type: MosaicBuildJob,
      db,
      store: this.store,
      owner: this.owner,
      signal: d.signal,
      hardStop: this.hardStop.signal,
      concurrency: cfg.builder.maxConcurrent,
      leaseMs: cfg.builder.leaseS * 1000,
      // The build's own deadline (tier timeoutS) stops it; the worker adds none.
      jobTimeoutMs: Infinity,
      // At shutdown a build is left running for the next start: no waiting.
      drainMs: 0,
      abortGraceMs: 10_000,
      log,
      clock,
      handler: (_job, h) => this.build(h.claim, h.signal),
      hooks: {
        gate: () => this.claimGate(),
        beforeClaim: (conn) => !S.expiredRunning(conn, MOSAIC_QUEUE, clock.now()),
        onClaim: (conn, job) => this.take(conn, job),
        onSettle: (conn, ev) => this.settle(conn, ev),
        onSettled: (ev) => this.settled(ev),
      },
      onInFlight: (n) => this.m.inFlight.set(n),
    });
  }

  /** Recover what a previous run left, then claim until the signal aborts; resolves after the drain. */
  async run(): Promise<void> {
    const { signal } = this.d;
    await this.recover(true);
    const every = this.d.hooks?.gateEveryMs ?? 30_000;
    const timer = setInterval(() => {
      try {
        this.gate.check();
      } catch (e) {
        this.d.log.error({ err: e }, 'mosaic dispatch gate check failed');
      }
    }, every);
    try {
      await this.worker.run();
    } finally {
      clearInterval(timer);
      if (signal.aborted) this.hardStop.abort();
    }
  }

  /** Builds running now (claimed or adopted). */
  get inFlight(): number {
    return this.worker.inFlight;
  }

  private claimGate(): { limit: number } {
    const { db, clock } = this.d;
    if (db.read((c) => S.expiredRunning(c, MOSAIC_QUEUE, clock.now()))) {
      this.recovering ??= this.recover(false).finally(() => {
        this.recovering = null;
        this.worker.wake();
      });
      return { limit: 0 };
    }
    return { limit: this.gate.check().length === 0 ? Infinity : 0 };
  }

  /** Inside the claim's write: plan → building and its attempt row, or finish a job whose plan moved on. */
  private take(conn: Connection, job: ClaimedJob<MosaicBuildPayload>): BuildClaim | SkipClaim {
    const { cfg, clock, log } = this.d;
    const now = clock.now();
    const plan = S.getPlan(conn, job.payload.planId);
    const from = plan && (plan.state === 'queued' || plan.state === 'retry_wait') ? plan.state : null;
    if (
      !plan ||
      from === null ||
      (plan.job_id !== null && plan.job_id !== job.id) ||
      S.openAttemptOf(conn, plan.id)
    ) {
      log.warn(
        { jobId: job.id, planId: job.payload.planId, state: plan?.state },
        'stale mosaic job; skipped',
      );
      return skipClaim({ skipped: `plan is ${plan?.state ?? 'gone'}` });
    }
    const attempt = S.nextAttemptNo(conn, plan.id);
    const paths = pathsOf(cfg, plan);
    const executor = cfg.builder.executor.kind;
    const jobName = executor === 'slurm' ? mosaicJobName(plan.name, attempt) : null;
    S.casPlan(conn, plan.id, [from], 'building', now, { attempts: job.lease.attempt, job_id: job.id });
    const attemptId = S.insertAttempt(
      conn,
      {
        plan_id: plan.id,
        attempt,
        job_id: job.id,
        lease_token: job.lease.token,
        executor,
        slurm_job_name: jobName,
        manifest_path: paths.manifest,
      },
      now,
    );
    emit(
      conn,
      'build_started',
      { plan: plan.name, planId: plan.id, tier: plan.tier, attempt, jobId: job.id },
      now,
    );
    log.info({ plan: plan.name, from, attempt, jobId: job.id }, 'dispatching mosaic build');
    const run: BuildRun = {
      plan: { ...plan, state: 'building', attempts: job.lease.attempt },
      attemptId,
      attempt,
      key: attemptKey({ id: attemptId, started_at: now }),
      dir: attemptDir(cfg.scratchDir, plan.name, attempt),
      paths,
      lease: job.lease,
    };
    if (plan.est_memory_bytes !== null) this.m.estMemory.set({ tier: plan.tier }, plan.est_memory_bytes);
    const claim: BuildClaim = {
      run,
      work: (kill, detach) => this.start(claim, jobName, kill, detach),
    };
    return claim;
  }

  /**
   * Write the manifest and start the build: locally under the supervisor (its pid and start ticks recorded),
   * or as the Slurm job `jobName`.
   */
  private async start(
    claim: BuildClaim,
    jobName: string | null,
    kill: AbortSignal,
    detach: AbortSignal,
  ): Promise<BuildEnd | null> {
    const { cfg, db, clock, log } = this.d;
    const { run } = claim;
    let argv: string[];
    try {
      const inputs = db.read((c) => S.planInputs(c, run.plan.id));
      argv = prepare(cfg, run, inputs);
    } catch (e) {
      const why = `cannot prepare the build: ${(e as Error).message}`;
      if ((e as Error).message.startsWith('manifest:')) claim.prepareError = why;
      return this.local.collect(run, { ...UNSEEN, spawnError: why });
    }
    if (jobName !== null) return this.slurm.submit(run, argv, this.local.env(run), jobName, kill, detach);
    const spawned = this.local.spawn(run, argv, kill, (pid) => {
      const row = { pid, pgid: pid, pid_start_ticks: pidStartTicks(pid) };
      try {
        db.write((c) => S.recordSpawn(c, run.attemptId, row, clock.now()));
      } catch (e) {
        // The marker still finds the builder; recovery settles it if this process dies.
        log.error({ err: e, plan: run.plan.name }, 'cannot record the builder pid');
      }
      log.info(
        { plan: run.plan.name, attempt: run.attempt, pid, argv: maskArgv(argv) },
        'mosaic builder started',
      );
    });
    const seen = await untilDetached(spawned, detach);
    return seen === null ? null : this.local.collect(run, seen);
  }

  /**
   * The worker's handler: await the build and say how it ended. A shutdown leaves the build running and
   * records nothing (the next start adopts it); a lost lease stops it.
   */
  async build(c: BuildClaim, signal: AbortSignal): Promise<Settlement> {
    const kill = new AbortController();
    const detach = new AbortController();
    const onAbort = (): void => {
      if (signal.reason instanceof ShutdownError) detach.abort(signal.reason);
      else kill.abort(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      const end = await c.work(kill.signal, detach.signal);
      if (end === null) return Settle.released(); // refused by the settle: left running
      return this.conclude(c, end);
    } catch (e) {
      this.d.log.error(
        { err: e, plan: c.run.plan.name },
        'mosaic build bookkeeping failed; recovery settles it',
      );
      return Settle.released();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Classify an ended build against the plan's earlier attempts; the settlement for the queue. */
  conclude(c: BuildClaim, end: BuildEnd): Settlement {
    const prior = this.d.db.read((conn) => ({
      timeouts: S.countOutcome(conn, c.run.plan.id, 'timeout'),
      buildErrors: S.countOutcome(conn, c.run.plan.id, 'build_error'),
    }));
    if (c.prepareError)
      end.forced = {
        outcome: 'validation',
        errorCode: 'bad_manifest',
        error: c.prepareError,
        retryable: false,
      };
    const verdict = classify(end, prior);
    c.ended = { end, verdict };
    if (verdict.outcome === 'ok') return Settle.done({ outcome: 'ok' });
    const error = new Error(
      `${verdict.outcome}${verdict.errorCode ? ` (${verdict.errorCode})` : ''}: ${verdict.error ?? ''}`,
    );
    return Settle.failed(error, {
      retryable: verdict.retryable,
      ...(verdict.retryPolicy && { retryPolicy: verdict.retryPolicy }),
    });
  }

  private settle(conn: Connection, ev: SettleEvent<MosaicBuildPayload, BuildClaim>): void | false {
    const now = this.d.clock.now();
    const c = ev.claim;
    if (!c) {
      // A job a claim buried (its last holder gone, no attempt open): the plan fails with it.
      const plan = S.getPlan(conn, ev.job.payload.planId);
      if (
        plan &&
        S.casPlan(conn, plan.id, ['building', 'queued', 'retry_wait'], 'failed', now, {
          error_code: 'crashed',
          error: 'holder lost',
        })
      )
        emit(
          conn,
          'failed',
          { plan: plan.name, planId: plan.id, tier: plan.tier, errorCode: 'crashed' },
          now,
        );
      return;
    }
    if (!c.ended) return false;
    const { run } = c;
    return settlePlan(
      conn,
      {
        plan: run.plan,
        attemptId: run.attemptId,
        attempt: run.attempt,
        jobAttempt: run.lease.attempt,
        manifestPath: run.paths.manifest,
        end: c.ended.end,
        verdict: c.ended.verdict,
        outputs: { fits: run.paths.fits, weights: run.paths.weights },
      },
      ev.decision,
      now,
    )
      ? undefined
      : false;
  }

  private settled(ev: SettleEvent<MosaicBuildPayload, BuildClaim>): void {
    const c = ev.claim;
    if (!c?.ended) return;
    const { plan } = c.run;
    const { end, verdict } = c.ended;
    this.m.builds.inc({ tier: plan.tier, outcome: verdict.outcome });
    if (end.res.durationMs > 0) this.m.duration.observe({ tier: plan.tier }, end.res.durationMs / 1000);
    const rss = end.result?.stats?.peak_rss_bytes;
    if (verdict.outcome === 'ok' && rss) this.m.peakRss.set({ tier: plan.tier }, rss);
    const log =
      verdict.outcome === 'ok' ? this.d.log.info.bind(this.d.log) : this.d.log.warn.bind(this.d.log);
    log(
      {
        plan: plan.name,
        attempt: c.run.attempt,
        outcome: verdict.outcome,
        errorCode: verdict.errorCode,
        decision: ev.decision.state,
      },
      'mosaic build ended',
    );
  }

  /**
   * Recover open attempts: at startup every one not held by another live daemon; later only those whose job
   * lease expired and that this process does not run itself (dispatch-recovery.ts).
   */
  recover(startup: boolean): Promise<number> {
    return recoverAll(this, startup);
  }
}
