// Exactly-once dispatch on lib/queue's worker. The worker claims due `conversions` jobs (lease + fencing
// token) behind a gate (the disk space; an expired running job with an open attempt is recovery's first, and
// the claim's transaction checks that again); inside the claim's transaction onClaim moves each group
// ready|retry_wait→converting and inserts its attempt row keyed to (job id, lease token), or finishes a stale
// job unrun; the configured executor (executor.ts) adds its columns to the attempt row there. The handler
// runs the attempt on that executor: locally, the manifest is written and the converter runs under its
// supervisor (conversion.ts), whose marker and files in the attempt directory let a restarted daemon find the
// attempt's processes and its exit status even before the pid is in the row; on Slurm, a batch job is
// submitted and tracked (slurm-executor.ts). The executor only says how the attempt ended: the worker
// heartbeats the lease, aborts the handler when the lease is lost (the executor stops the work), drains at
// shutdown (killGraceS, then the work is stopped, or a Slurm job left running) and settles: the queue's
// decision and the group's and attempt's rows in one transaction (outcome.ts). Recovery hands the attempts
// an executor adopts to the worker too, so they count against maxConcurrent and drain like any other, and
// settles the ones it finds ended through the same hook. The main loop drives the claims (fill).
import path from 'node:path';
import type { Connection } from '../../lib/db/index.js';
import { LeaseLostError } from '../../lib/errors.js';
import { leaseOwner } from '../../lib/leases/index.js';
import {
  Settle,
  skipClaim,
  Worker,
  type ClaimedJob,
  type Settlement,
  type SettlingJob,
  type SkipClaim,
} from '../../lib/queue/index.js';
import { maskArgv } from '../../lib/redact.js';
import { attemptKey } from '../../lib/exec/attempt-files.js';
import {
  AttemptRunner,
  type AttemptBody,
  type AttemptRun,
  type RunnerHooks,
  type Settle as AttemptEnd,
} from './conversion.js';
import { emit, type Ctx } from './context.js';
import { DiskGate, statfsFree } from './disk-gate.js';
import type { AdoptionHost, ConversionExecutor, ExecutorKind } from './executor.js';
import { createExecutors } from './executors.js';
import { ConvertJob, KIND, QUEUE, type ConvertPayload } from './jobs.js';
import { finish, settleConversion, settledConversion, type ConversionClaim } from './outcome.js';
import type { GroupState } from './rules.js';
import * as S from './store.js';

export interface DispatchHooks extends RunnerHooks {
  /** Free bytes of a path (fs.statfs by default); tests pass a fake to exercise the disk gate. */
  freeBytes?: (p: string) => number;
}

/** The attempt directory: scratch/<group id with ':' kept>/attempt-N (cwd of the converter). */
export function attemptDir(scratchDir: string, groupId: string, attempt: number): string {
  return path.join(scratchDir, groupId, `attempt-${attempt}`);
}

export function outputPathFor(outputDir: string, template: string, groupId: string): string {
  return path.join(outputDir, template.replaceAll('{group}', groupId));
}

const DISPATCHABLE: readonly GroupState[] = ['ready', 'retry_wait', 'converting', 'failed'];

/** The conversions job an attempt runs under, as the worker's settle sees it. */
function jobOf(run: AttemptRun): SettlingJob<ConvertPayload> {
  return {
    id: run.lease.jobId,
    queue: QUEUE,
    kind: KIND,
    // Stryker disable next-line ObjectLiteral: nothing reads the payload of a job it settles or adopts (the worker and settleConversion go by the job id and lease; only a claimed job's payload is read)
    payload: { groupRef: run.group.id, groupId: run.group.group_id },
    lease: run.lease,
  };
}

export class Dispatcher implements AdoptionHost {
  /** `<host>:<pid>:converter:<random>`: recovery tells a live holder on this host from a dead one by the pid. */
  readonly owner = leaseOwner('converter');
  readonly runner: AttemptRunner;
  readonly worker: Worker<ConvertPayload, ConversionClaim>;
  /** The configured executor, and the other one for attempts it ran before a config change. */
  private readonly executors: (kind: ExecutorKind) => ConversionExecutor;
  private readonly disk: DiskGate;
  /** Aborted at the hard stop (or a fatal error): the drain ends, settles waiting on a lock give up. */
  private readonly hardStop = new AbortController();
  /** Set when the gate saw an expired lease; the loop runs recovery before the next dispatch. */
  // Stryker disable next-line BooleanLiteral: true only adds a recovery pass at the first tick, right after startup recovery settled everything expired (recover is idempotent); what expires later the gate flags in that same tick
  wantRecovery = false;

  constructor(
    private readonly ctx: Ctx,
    hooks: DispatchHooks,
    wake: () => void,
  ) {
    const { cfg, log, m } = ctx;
    this.disk = new DiskGate(ctx, hooks.freeBytes ?? statfsFree);
    this.runner = new AttemptRunner(ctx, hooks, (run, pid, argv) =>
      log.info(
        { groupId: run.group.group_id, attempt: run.attempt, pid, argv: maskArgv(argv) },
        'converter started',
      ),
    );
    let inFlight = 0;
    this.worker = new Worker<ConvertPayload, ConversionClaim>({
      type: ConvertJob,
      db: ctx.db,
      store: ctx.queue,
      queue: QUEUE,
      owner: this.owner,
      // The main loop drives the claims (fill) and the drain (drain()); run() is not used.
      signal: new AbortController().signal,
      hardStop: this.hardStop.signal,
      concurrency: cfg.maxConcurrent,
      leaseMs: cfg.leaseS * 1000,
      // The converter's own timeout (converter.timeoutS) stops it; the worker adds none.
      jobTimeoutMs: Infinity,
      drainMs: cfg.killGraceS * 1000,
      // Aborted converters are stopped (SIGTERM, SIGKILL after killGraceS) and settled: wait for them.
      abortGraceMs: Infinity,
      log,
      clock: ctx.clock,
      handler: (_job, h) => this.convert(h.claim, h.signal),
      hooks: {
        gate: () => this.gate(),
        beforeClaim: (conn) => !S.expiredRunning(conn, QUEUE, ctx.clock.now()),
        onClaim: (conn, job) => this.take(conn, job),
        onSettle: (conn, ev) => settleConversion(ctx, conn, ev),
        onSettled: (ev) => settledConversion(ctx, ev),
        onSettleError: () => m.loopErrors.inc({ loop: 'dispatch' }),
      },
      onInFlight: (n) => {
        m.inFlight.set(n);
        // A finished conversion frees a slot: the main loop claims again at once. Waking it also when a slot
        // fills (`true`, `<=`) only adds a tick right after the claim's own (every claim and adoption runs
        // inside a tick, or before the loop's first), whose steps are timed and idempotent: equivalent.
        // `false` and `>=` (no wake when a slot frees) are killed by dispatch-wake.test.ts (checked by hand).
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, see above.
        if (n < inFlight) wake();
        inFlight = n;
      },
    });
    this.executors = createExecutors(ctx, this, hooks);
  }

  /** The executor new attempts run on (streamingConverter.executor.kind). */
  get executor(): ConversionExecutor {
    return this.executors(this.ctx.cfg.executor.kind);
  }

  /** The executor an attempt ran on (its row's `executor`). */
  executorFor(kind: ExecutorKind): ConversionExecutor {
    return this.executors(kind);
  }

  /** Conversions running now (claimed or adopted). */
  get inFlight(): number {
    return this.worker.inFlight;
  }

  /** Claim due conversion jobs (oldest observation first) up to maxConcurrent in flight and start them. */
  dispatch(): number {
    return this.worker.fill();
  }

  /**
   * The claim gate. A running job with an expired lease and an open attempt is an orphan's: recovery (async:
   * kill or await it) takes it over, never the claim, so a second converter cannot start beside a live one.
   * Then the disk (disk-gate.ts).
   */
  private gate(): { limit: number } {
    const { db, clock } = this.ctx;
    if (db.read((c) => S.expiredRunning(c, QUEUE, clock.now()))) {
      this.wantRecovery = true;
      // Stryker disable next-line ObjectLiteral: without the limit the claim's transaction re-checks the same expired lease (beforeClaim) and claims nothing
      return { limit: 0 };
    }
    return { limit: this.disk.ok() ? Infinity : 0 };
  }

  /** Inside the claim's write: group → converting and its attempt row, or finish a job whose group moved on. */
  private take(conn: Connection, job: ClaimedJob<ConvertPayload>): ConversionClaim | SkipClaim {
    const { cfg, clock } = this.ctx;
    const now = clock.now();
    const ref = job.payload.groupRef;
    const g = S.getGroup(conn, ref);
    // converting: an expired claim whose attempt was already closed (no converter can be running);
    // failed: its dead job was redriven with `contimg jobs` instead of `converter requeue`.
    const from = g && DISPATCHABLE.includes(g.state) ? g.state : null;
    if (!g || from === null || g.job_id !== job.id || S.openAttemptOf(conn, g.id)) {
      this.ctx.log.warn({ jobId: job.id, groupRef: ref, state: g?.state }, 'stale conversion job; skipped');
      return skipClaim({ skipped: `group is ${g?.state ?? 'gone'}` });
    }
    const attempt = S.nextAttemptNo(conn, g.id);
    const out = outputPathFor(cfg.outputDir, cfg.converter.outputName, g.group_id);
    const dir = attemptDir(cfg.scratchDir, g.group_id, attempt);
    const manifest = path.join(dir, 'manifest.json');
    const executor = this.executor;
    S.casGroup(conn, g.id, from, 'converting', now, { attempts: job.lease.attempt, dispatched_at: now });
    const attemptId = S.insertAttempt(
      conn,
      {
        group_ref: g.id,
        attempt,
        job_id: job.id,
        lease_token: job.lease.token,
        manifest_path: manifest,
        output_path: out,
        ...executor.attemptColumns(g.group_id, attempt, now),
      },
      now,
    );
    emit(conn, 'dispatched', { groupId: g.group_id, attempt, outputPath: out, jobId: job.id }, now);
    this.ctx.log.info({ groupId: g.group_id, from, to: 'converting', attempt, jobId: job.id }, 'dispatching');
    const run: AttemptRun = {
      group: { ...g, attempts: job.lease.attempt },
      attemptId,
      attempt,
      key: attemptKey({ id: attemptId, started_at: now }),
      dir,
      out,
      lease: job.lease,
    };
    return { run, work: (abort) => executor.submit(run, abort) };
  }

  /**
   * The worker's handler: run the attempt on its executor (or await the adopted one) and say how it ended.
   * The work is stopped when the worker aborts (shutdown past the drain, a lost lease; the reason is passed
   * on). Work left running outside this process (a Slurm job at shutdown) and a failure of our own
   * bookkeeping leave `ended` unset: nothing is recorded, and recovery takes the attempt over once the lease
   * has expired (adopts the job, or settles the attempt from its directory).
   */
  private async convert(c: ConversionClaim, signal: AbortSignal): Promise<Settlement> {
    const abort = new AbortController();
    const stop = (): void => abort.abort(signal.reason);
    // The worker calls its handler synchronously with a new controller's signal, so it is never aborted yet
    // here: `false` is equivalent; kept for other callers (a listener on an aborted signal never fires).
    // `true` (stop every conversion at once) is killed when enabled.
    // Stryker disable next-line ConditionalExpression: equivalent, see above.
    if (signal.aborted) stop();
    else {
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: an AbortSignal fires 'abort' once, and the finally unhooks stop anyway
      signal.addEventListener('abort', stop, { once: true });
    }
    try {
      const f = await c.work!(abort);
      if (f === null) return Settle.released(); // refused by the settle hook: left running (`ended` unset)
      const { ended, settlement } = finish(this.ctx, c.run, f);
      c.ended = ended;
      return settlement;
    } catch (e) {
      this.ctx.m.loopErrors.inc({ loop: 'dispatch' });
      this.ctx.log.error(
        { err: e, groupId: c.run.group.group_id },
        'conversion bookkeeping failed; recovery will settle the attempt from its directory',
      );
      return Settle.released(); // refused by the settle hook: no end known (`ended` unset)
    } finally /* Stryker disable next-line BlockStatement: equivalent, see below */ {
      // Unhooking only frees the listener (the signal is this job's own, dropped with it); an abort after the
      // work ended aborts a controller nothing listens to any more (the executors unhook their listeners).
      // Stryker disable next-line StringLiteral: equivalent, see above.
      signal.removeEventListener('abort', stop);
    }
  }

  /**
   * Take over an attempt an executor found still running (its adopt, during recovery): renew the job's lease
   * under the attempt's own token first (refused when someone has claimed the job since: then the executor
   * stops or settles it instead), record `attempt_adopted` with `detail`, then hand it to the worker, which
   * runs `body` (awaits the work) and settles it like one of ours. Returns whether it was adopted. The write
   * waits out a lock (yielding) until `signal` aborts.
   */
  async adopt(
    run: AttemptRun,
    detail: Record<string, unknown>,
    body: AttemptBody,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { cfg, clock, db } = this.ctx;
    const now = clock.now();
    try {
      run.lease = await db.writeAsync(
        (conn) => {
          const renewed = this.ctx.queue.heartbeat(run.lease, cfg.leaseS * 1000);
          const event = { groupId: run.group.group_id, attempt: run.attempt, ...detail, running: true };
          emit(conn, 'attempt_adopted', event, now);
          return renewed;
        },
        { budgetMs: Infinity, signal },
      );
    } catch (e) {
      if (e instanceof LeaseLostError) return false;
      throw e;
    }
    this.worker.adopt(jobOf(run), { run, work: body }, (_job, h) => this.convert(h.claim, h.signal));
    return true;
  }

  /**
   * Settle an attempt nothing runs for any more (an executor's adopt, during recovery), under the dead
   * holder's lease token: fenced, so nothing changes if anyone has claimed the job since, or settled the
   * attempt meanwhile. Throws when the write failed after its tries.
   */
  async settleFound(run: AttemptRun, f: AttemptEnd): Promise<void> {
    const { ended, settlement } = finish(this.ctx, run, f);
    await this.worker.settleFor(jobOf(run), { run, ended }, settlement);
  }

  /** Stop: wait up to killGraceS for running converters, then stop them and wait for their settles. */
  async drain(hardStop?: AbortSignal): Promise<void> {
    const stop = (): void => this.hardStop.abort();
    if (hardStop?.aborted) stop();
    else {
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: an AbortSignal fires 'abort' once, so `once` changes nothing
      hardStop?.addEventListener('abort', stop, { once: true });
    }
    await this.worker.drain();
  }
}
