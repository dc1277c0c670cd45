// The one queue worker. It claims up to `concurrency` jobs behind a claim gate, runs the handler with an
// AbortSignal (job timeout, shutdown, lost lease), heartbeats every leaseMs/3 until the attempt is recorded,
// and settles it (settle.ts). A daemon joins its own rows to the queue's through hooks that run inside the
// queue's transactions (types.ts, WorkerHooks; the claim round is claim-round.ts): on claim (compare-and-set,
// attempt rows), on settle (with the queue's decision), and for a job a claim buried. Payloads of a typed
// worker are checked at claim. run() drives the claims on lib/loop (woken by in-process enqueues, commits
// elsewhere, freed slots); a daemon with its own main loop calls fill() from it instead. Nothing here throws
// out of the loop: errors are logged, counted and backed off. On abort it stops claiming, waits for
// in-flight jobs up to drainMs (or the hard stop), then aborts them and, after abortGraceMs, hands back
// what still runs.
import type { BackoffPolicy } from '../backoff.js';
import { pause, systemClock, type Clock } from '../clock.js';
import type { Db } from '../db/index.js';
import { isRetryable, LeaseLostError, RetryableError, ShutdownError } from '../errors.js';
import { leaseOwner } from '../leases/index.js';
import { silentLogger, type Logger } from '../log.js';
import { Loop } from '../loop.js';
import type { JobType } from './job-type.js';
import type { QueueMetrics } from './metrics.js';
import { claimRound, type ClaimRound } from './claim-round.js';
import { leaseLost } from './ops.js';
import { outcomeLabel, Settler } from './settle.js';
import { onQueueChange, SqliteQueueStore } from './store.js';
import {
  Settle,
  type ClaimedJob,
  type HandlerContext,
  type JobHandler,
  type JsonObject,
  type Lease,
  type SettleDecision,
  type SettleEvent,
  type Settlement,
  type SettlingJob,
  type WorkerHooks,
} from './types.js';

export class JobTimeoutError extends RetryableError {
  constructor(jobId: number, timeoutMs: number) {
    super(`job ${jobId} timed out after ${timeoutMs} ms`, {
      code: 'JOB_TIMEOUT',
      details: { jobId, timeoutMs },
    });
  }
}

export interface WorkerOptions<P extends JsonObject = JsonObject, C = undefined> {
  db: Db;
  /** The job type this worker runs: its payload is checked at claim, the handler gets it parsed. */
  type?: JobType<P>;
  /** The queue to claim from: the type's queue by default (a family's member queue must be named). */
  queue?: string;
  handler: JobHandler<P, C>;
  hooks?: WorkerHooks<P, C>;
  /** Shared store (and its metrics); one is made from db, clock, metrics and retryPolicy otherwise. */
  store?: SqliteQueueStore;
  /** Aborting it stops run()'s claims and starts the drain; run() resolves when the drain is over. */
  signal: AbortSignal;
  /** The daemon's hard stop (deps.hardStop): the drain ends at once, in-flight jobs are aborted. */
  hardStop?: AbortSignal;
  /** Lease owner id (lib/leases' format); leaseOwner(`worker:<queue>`) by default. */
  owner?: string;
  concurrency?: number;
  leaseMs?: number;
  /** Idle poll: starts here and doubles to maxPollMs while the queue stays empty. */
  pollMs?: number;
  maxPollMs?: number;
  /** How often run() checks PRAGMA data_version for commits by other processes. */
  wakeCheckMs?: number;
  /** Handler timeout unless the job has its own; Infinity for none (the handler enforces its own). */
  jobTimeoutMs?: number;
  drainMs?: number;
  /**
   * After aborting unfinished jobs, how long to wait for them (and their settles) before giving up. Infinity:
   * as long as they take (the handlers bound their own stop); their writes then wait for the lock only until
   * the hard stop.
   */
  abortGraceMs?: number;
  gaugeEveryMs?: number;
  /** Retry delays for failed jobs; overrides the store's policy when both are given. */
  retryPolicy?: BackoffPolicy;
  log?: Logger;
  clock?: Clock;
  metrics?: QueueMetrics;
  /** Told whenever the number of jobs in flight changes (a gauge; a driving loop's wake-up). */
  onInFlight?: (n: number) => void;
}

export interface WorkerSummary {
  claimed: number;
  done: number;
  retried: number;
  dead: number;
  released: number;
  leaseLost: number;
  errors: number;
}

interface InFlight<P, C> {
  job: SettlingJob<P>;
  claim: C | undefined;
  ac: AbortController;
  done: Promise<void>;
  /** The attempt is being recorded: a heartbeat that finds the lease gone now is the settle's business. */
  settling: boolean;
  beating: boolean;
  /** Handed back by the drain after the abort grace ran out; its late result is not recorded. */
  abandoned: boolean;
}

const ERROR_BACKOFF: BackoffPolicy = { strategy: 'exponential', baseMs: 1000, maxMs: 5000, jitter: 0.2 };
/** Tries to record an attempt's end before leaving it to its lease's expiry (1 s, 2 s, … apart). */
const SETTLE_TRIES = 5;

type Resolved<P extends JsonObject, C> = Required<
  Omit<
    WorkerOptions<P, C>,
    'store' | 'metrics' | 'retryPolicy' | 'type' | 'hooks' | 'hardStop' | 'onInFlight'
  >
>;

export class Worker<P extends JsonObject = JsonObject, C = undefined> {
  readonly summary: WorkerSummary = {
    claimed: 0,
    done: 0,
    retried: 0,
    dead: 0,
    released: 0,
    leaseLost: 0,
    errors: 0,
  };
  readonly store: SqliteQueueStore;
  private readonly o: Resolved<P, C>;
  private readonly x: Pick<WorkerOptions<P, C>, 'type' | 'hardStop' | 'onInFlight' | 'metrics'>;
  private readonly hooks: WorkerHooks<P, C>;
  private readonly inflight = new Map<number, InFlight<P, C>>();
  private readonly settler: Settler<P, C>;
  /** Aborted when the worker stops waiting for writes (the end of the drain's abort grace). */
  private readonly giveUp = new AbortController();
  private loop: Loop | null = null;
  private idleMs: number;
  private gateWakeAt: number | undefined;
  private stopping = false;

  constructor(opts: WorkerOptions<P, C>) {
    const clock = opts.clock ?? systemClock;
    const queue = opts.queue ?? opts.type?.queue;
    if (!queue || (opts.type && !opts.type.accepts(queue)))
      throw new TypeError(`worker: queue ${queue ?? '(none)'} does not carry ${opts.type?.kind ?? 'jobs'}`);
    this.store =
      opts.store ??
      new SqliteQueueStore(opts.db, { clock, metrics: opts.metrics, retryPolicy: opts.retryPolicy });
    this.o = {
      db: opts.db,
      queue,
      handler: opts.handler,
      signal: opts.signal,
      owner: opts.owner ?? leaseOwner(`worker:${queue}`),
      concurrency: Math.max(1, opts.concurrency ?? 1),
      leaseMs: opts.leaseMs ?? 60_000,
      pollMs: opts.pollMs ?? 1000,
      maxPollMs: opts.maxPollMs ?? 5000,
      wakeCheckMs: opts.wakeCheckMs ?? 100,
      jobTimeoutMs: opts.jobTimeoutMs ?? 3_600_000,
      drainMs: opts.drainMs ?? 50_000,
      abortGraceMs: opts.abortGraceMs ?? 2000,
      gaugeEveryMs: opts.gaugeEveryMs ?? 5000,
      log: (opts.log ?? silentLogger()).child({ component: 'queue-worker', queue }),
      clock,
    };
    this.x = { type: opts.type, hardStop: opts.hardStop, onInFlight: opts.onInFlight, metrics: opts.metrics };
    this.hooks = opts.hooks ?? {};
    this.idleMs = this.o.pollMs;
    this.settler = new Settler(this.o.db, this.store, this.hooks, {
      giveUp: this.giveUp.signal,
      retryPolicy: opts.retryPolicy,
    });
  }

  get owner(): string {
    return this.o.owner;
  }

  /** Jobs claimed or adopted and not yet recorded. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** The ids of the jobs in flight. */
  jobIds(): Set<number> {
    return new Set(this.inflight.keys());
  }

  /** Claim now (run() does this on its own; a daemon with its own loop calls it from there). */
  wake(): void {
    this.loop?.wake();
  }

  /** Claim and start until `signal` aborts, then drain. */
  async run(): Promise<WorkerSummary> {
    const { log, signal } = this.o;
    const loop = new Loop({
      name: `queue:${this.o.queue}`,
      everyMs: this.o.pollMs,
      signal,
      clock: this.o.clock,
      log: this.o.log,
      errorBackoff: ERROR_BACKOFF,
      onError: (e) => this.countError(e, 'claim failed; backing off'),
      tick: () => this.tick(),
    });
    this.loop = loop;
    const unsubscribe = onQueueChange(this.o.db.conn, () => loop.wake());
    let version = safeDataVersion(this.o.db);
    const watch = setInterval(() => {
      const v = safeDataVersion(this.o.db);
      // A commit elsewhere does not cut an error backoff short (a freed slot or an enqueue here does).
      if (v !== version && loop.errorStreak === 0) loop.wake();
      version = v;
    }, this.o.wakeCheckMs);
    const gauges = setInterval(() => this.refreshGauges(), this.o.gaugeEveryMs);
    log.info({ owner: this.o.owner, concurrency: this.o.concurrency }, 'worker started');
    try {
      await loop.run();
      await this.drain();
    } finally {
      clearInterval(watch);
      clearInterval(gauges);
      unsubscribe();
      this.loop = null;
      this.refreshGauges();
    }
    log.info({ ...this.summary }, 'worker stopped');
    return this.summary;
  }

  /** One claim round of run(): when to look again (wall-clock ms). */
  private tick(): number {
    const now = this.o.clock.now();
    if (this.inflight.size >= this.o.concurrency) return now + this.o.maxPollMs; // a finished job wakes us
    if (this.fill() > 0) {
      this.idleMs = this.o.pollMs;
      return now;
    }
    const next = now + this.idleMs;
    this.o.log.debug({ idleMs: this.idleMs }, 'queue empty; idling');
    this.idleMs = Math.min(this.idleMs * 2, this.o.maxPollMs);
    return this.gateWakeAt !== undefined ? Math.min(next, this.gateWakeAt) : next;
  }

  /**
   * Claim as many due jobs as there are free slots and the gate allows, and start them. Returns how many
   * started. Throws when the claim fails (run()'s loop backs off; a driving loop counts it).
   */
  fill(): number {
    this.gateWakeAt = undefined;
    const free = this.o.concurrency - this.inflight.size;
    if (this.stopping || free <= 0) return 0;
    const { db } = this.o;
    // A read first: an idle queue never takes the write lock.
    if (!this.store.claimable(this.o.queue)) return 0;
    const gate = this.hooks.gate?.({ inFlight: this.inflight.size });
    this.gateWakeAt = gate?.wakeAt;
    const limit = Math.min(free, gate?.limit ?? free);
    if (limit <= 0) return 0;
    const { queue, owner, leaseMs, clock } = this.o;
    const r = db.write((conn) =>
      claimRound<P, C>(conn, {
        claim: { queue, owner, leaseMs, limit },
        now: clock.now(),
        hooks: this.hooks,
        type: this.x.type,
        failOptions: this.store.failOptions(false),
      }),
    );
    this.afterClaim(r);
    for (const { job, claim } of r.run) this.start(job, claim, this.o.handler);
    return r.run.length;
  }

  /** Metrics, summary, logs and onSettled for what a committed claim did besides starting jobs. */
  private afterClaim(r: ClaimRound<P, C>): void {
    const { queue, log } = this.o;
    this.store.countClaim(
      queue,
      r.run.length + r.skipped.length,
      r.buried.map((e) => e.job),
    );
    for (const ev of r.buried) {
      log.warn({ jobId: ev.job.id }, 'claim buried a job whose last attempt lost its holder (dead)');
      this.hooks.onSettled?.(ev);
    }
    for (const ev of r.skipped) {
      this.store.countOutcome(queue, 'done');
      log.debug({ jobId: ev.job.id }, 'stale job finished at claim; nothing to run');
      this.hooks.onSettled?.(ev);
    }
    for (const bad of r.invalid) {
      this.store.countOutcome(queue, 'dead');
      this.summary.dead++;
      log.error({ jobId: bad.id, err: bad.error }, 'job payload does not fit its type: dead');
    }
    this.summary.claimed += r.run.length;
  }

  /**
   * Run `body` for a job this process did not claim but holds the lease of (recovery found its work still
   * running): it counts against concurrency, is heartbeated, drained and settled like a claimed one.
   */
  adopt(job: SettlingJob<P>, claim: C, body: JobHandler<P, C>): void {
    this.start(job, claim, body);
  }

  /**
   * Record the end of an attempt this worker does not run (recovery settling a dead holder's attempt under
   * its lease token): the same transaction and hooks as a finished job. Resolves with the decision, or null
   * when onSettle refused. Throws when the write failed.
   */
  async settleFor(job: SettlingJob<P>, claim: C, settlement: Settlement): Promise<SettleDecision | null> {
    const log = this.o.log.child({ jobId: job.id, kind: job.kind });
    const ev = await this.settleRetrying(() => job, claim, settlement, log, {});
    if (ev) this.recorded(ev, log, settlement);
    return ev?.decision ?? null;
  }

  private start(job: SettlingJob<P>, claim: C | undefined, body: JobHandler<P, C>): void {
    const entry: InFlight<P, C> = {
      job,
      claim,
      ac: new AbortController(),
      done: Promise.resolve(),
      settling: false,
      beating: false,
      abandoned: false,
    };
    this.inflight.set(job.id, entry);
    this.x.onInFlight?.(this.inflight.size);
    entry.done = this.execute(entry, body).finally(() => {
      this.inflight.delete(job.id);
      this.x.onInFlight?.(this.inflight.size);
      this.loop?.wake();
    });
  }

  private async execute(entry: InFlight<P, C>, body: JobHandler<P, C>): Promise<void> {
    const { job, ac } = entry;
    const log = this.o.log.child({ jobId: job.id, kind: job.kind, attempt: job.lease.attempt });
    const timeoutMs = (job as Partial<ClaimedJob>).timeoutMs ?? this.o.jobTimeoutMs;
    const timeout = Number.isFinite(timeoutMs)
      ? setTimeout(() => ac.abort(new JobTimeoutError(job.id, timeoutMs)), timeoutMs)
      : undefined;
    const beat = setInterval(() => this.beat(entry, log), Math.max(1, Math.floor(this.o.leaseMs / 3)));
    const t0 = this.o.clock.monotonic();
    let settlement: Settlement;
    try {
      const ctx: HandlerContext<C> = {
        signal: ac.signal,
        log,
        claim: entry.claim as C,
        heartbeat: () => this.heartbeatNow(entry, log),
      };
      const value = await body(job as ClaimedJob<P>, ctx);
      settlement = Settle.is(value) ? value : Settle.done(value);
    } catch (e) {
      settlement = this.failure(entry, e);
    } finally {
      clearTimeout(timeout);
      const seconds = (this.o.clock.monotonic() - t0) / 1000;
      this.x.metrics?.jobDurationSeconds.observe({ queue: job.queue, kind: job.kind }, seconds);
    }
    try {
      // After a lost lease the settle is refused by the queue (fenced) and reported as `lost`.
      await this.record(entry, settlement, log, ac.signal.reason instanceof LeaseLostError);
    } finally {
      clearInterval(beat);
    }
  }

  /** What a thrown error means: shutdown hands the job back; a timeout or a retryable error retries. */
  private failure(entry: InFlight<P, C>, e: unknown): Settlement {
    const reason: unknown = entry.ac.signal.aborted ? entry.ac.signal.reason : undefined;
    if (reason instanceof ShutdownError) return Settle.released();
    const err = reason instanceof JobTimeoutError ? reason : e;
    return Settle.failed(err, { retryable: isRetryable(err) });
  }

  /** Settle a job this worker ran; a write it could not make in the end is counted, and the lease expires. */
  private async record(
    entry: InFlight<P, C>,
    settlement: Settlement,
    log: Logger,
    lost: boolean,
  ): Promise<void> {
    let ev: SettleEvent<P, C> | null;
    try {
      ev = await this.settleRetrying(() => entry.job, entry.claim, settlement, log, { lost, entry });
    } catch (e) {
      return this.countError(e, 'could not record the job outcome; the lease will expire and it will rerun');
    }
    if (entry.abandoned) return;
    if (ev) this.recorded(ev, log, settlement);
    else
      log.warn('outcome not recorded: the settle hook refused it (settled elsewhere, or left to its lease)');
  }

  /**
   * Settle. A write that failed for a passing reason (an I/O error, a hook's RetryableError) is tried again a
   * few times (while a running job's lease is still heartbeated); any other failure, or the last, is thrown.
   * Resolves with what was recorded, or null when onSettle refused (or the drain abandoned the job).
   */
  private async settleRetrying(
    job: () => SettlingJob<P>,
    claim: C | undefined,
    settlement: Settlement,
    log: Logger,
    o: { lost?: boolean; entry?: InFlight<P, C> },
  ): Promise<SettleEvent<P, C> | null> {
    for (let i = 1; !o.entry?.abandoned; i++) {
      if (o.entry) o.entry.settling = true;
      try {
        return await this.settler.settle(job(), claim, settlement, { lost: o.lost });
      } catch (e) {
        if (o.entry) o.entry.settling = false;
        const retrying = i < SETTLE_TRIES && !this.giveUp.signal.aborted && isRetryable(e);
        this.hooks.onSettleError?.(e, job(), { try: i, retrying });
        if (!retrying) throw e;
        log.warn({ err: e, try: i }, 'could not record the job outcome; retrying');
        await pause(i * 1000, this.giveUp.signal);
      }
    }
    return null;
  }

  /** Count and log what a committed settle decided, then tell the daemon (onSettled). */
  private recorded(ev: SettleEvent<P, C>, log: Logger, s: Settlement): void {
    const d = ev.decision;
    const label = outcomeLabel(d);
    if (label) this.store.countOutcome(ev.job.queue, label);
    const failure = s.settle === 'failed' ? { err: s.error, retryable: s.retryable } : {};
    if (d.state === 'done') this.summary.done++;
    else if (d.state === 'retry') {
      this.summary.retried++;
      log.warn({ ...failure, state: 'queued', runAt: d.runAt }, 'job failed; will retry');
    } else if (d.state === 'dead') {
      this.summary.dead++;
      log.warn({ ...failure, state: 'dead' }, 'job failed for good (dead)');
    } else if (d.state === 'released') this.summary.released++;
    else {
      this.summary.leaseLost++;
      log.warn(
        { err: leaseLost(ev.job.lease, 'settle') },
        'lease lost: another worker owns this job now; result discarded',
      );
    }
    this.hooks.onSettled?.(ev);
  }

  /** The handler's ctx.heartbeat(): a write now; a busy database is logged (the interval tries again). */
  private heartbeatNow(entry: InFlight<P, C>, log: Logger): void {
    try {
      entry.job = { ...entry.job, lease: this.store.heartbeat(entry.job.lease, this.o.leaseMs) };
    } catch (e) {
      if (!(e instanceof LeaseLostError)) return void log.warn({ err: e }, 'heartbeat failed; retrying');
      entry.ac.abort(e);
      throw e;
    }
  }

  /** Extend the lease (a write that waits for the lock without blocking); a lost lease aborts the handler. */
  private beat(entry: InFlight<P, C>, log: Logger): void {
    if (entry.beating || entry.abandoned) return;
    entry.beating = true;
    const { leaseMs } = this.o;
    this.store
      .heartbeatAsync(entry.job.lease, leaseMs, { budgetMs: leaseMs, signal: this.giveUp.signal })
      .then((lease) => {
        entry.job = { ...entry.job, lease };
      })
      .catch((e: unknown) => {
        if (!(e instanceof LeaseLostError)) return void log.warn({ err: e }, 'heartbeat failed; retrying');
        if (entry.settling || entry.ac.signal.aborted) return;
        log.warn('lease lost while running (cancelled or re-claimed); aborting the handler');
        entry.ac.abort(e);
      })
      .finally(() => {
        entry.beating = false;
      });
  }

  /**
   * Stop: no more claims; wait for in-flight jobs up to drainMs (or until the hard stop, or at once when
   * `immediate`), then abort them with ShutdownError and wait abortGraceMs for their settles; jobs whose
   * handlers still have not finished are handed back (their late results are refused).
   */
  async drain(opts: { immediate?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (this.inflight.size === 0) return;
    const { log } = this.o;
    log.info({ inflight: this.inflight.size, drainMs: this.o.drainMs }, 'draining in-flight jobs');
    const all = (): Promise<unknown> => Promise.all([...this.inflight.values()].map((f) => f.done));
    const hardStop = opts.immediate ? AbortSignal.abort() : this.x.hardStop;
    if (await settledWithin(all(), this.o.drainMs, hardStop)) return;
    log.warn({ inflight: this.inflight.size }, 'drain deadline passed; aborting unfinished jobs');
    for (const f of this.inflight.values()) f.ac.abort(new ShutdownError('worker shutting down'));
    const graceMs = opts.immediate ? 0 : this.o.abortGraceMs;
    const settled = await this.afterAbort(all(), graceMs, hardStop);
    this.giveUp.abort(new ShutdownError('worker stopped waiting for the database'));
    if (settled) return;
    // Handlers that ignore their signal: hand the jobs back anyway; their late results will be refused.
    for (const f of this.inflight.values()) {
      if (f.settling) continue;
      f.abandoned = true;
      try {
        this.store.release(f.job.lease);
        this.summary.released++;
      } catch (e) {
        if (e instanceof LeaseLostError) this.summary.leaseLost++;
        else this.countError(e, 'could not hand a job back; its lease will expire');
      }
    }
  }

  /**
   * The abort grace: whether the aborted jobs settled within graceMs. An endless grace waits for them as long
   * as they take (their handlers bound their own stop, e.g. a child's kill grace), and only their writes
   * waiting for the lock give up, at the hard stop.
   */
  private async afterAbort(all: Promise<unknown>, graceMs: number, hardStop?: AbortSignal): Promise<boolean> {
    if (Number.isFinite(graceMs)) return settledWithin(all, graceMs);
    const giveUp = (): void =>
      this.giveUp.abort(new ShutdownError('hard stop: no more waiting for the database'));
    if (hardStop?.aborted) giveUp();
    else hardStop?.addEventListener('abort', giveUp, { once: true });
    try {
      await all;
    } finally {
      hardStop?.removeEventListener('abort', giveUp);
    }
    return true;
  }

  private refreshGauges(): void {
    // Without metrics of its own the worker has no gauges to keep; refreshing would only read the counts.
    // Stryker disable next-line ConditionalExpression: equivalent, see above.
    if (!this.x.metrics) return;
    try {
      this.store.refreshGauges([this.o.queue]);
    } catch (e) {
      this.countError(e, 'queue gauge refresh failed');
    }
  }

  private countError(e: unknown, msg: string): void {
    this.summary.errors++;
    this.x.metrics?.workerErrors.inc({ queue: this.o.queue });
    this.o.log.error({ err: e }, msg);
  }
}

function safeDataVersion(db: Db): number {
  try {
    return db.dataVersion();
  } catch {
    // A failed read only decides whether to wake early; any sentinel works.
    // Stryker disable next-line UnaryOperator: equivalent, see above.
    return -1;
  }
}

/** Whether p settles within ms (or before `stop` aborts). */
async function settledWithin(p: Promise<unknown>, ms: number, stop?: AbortSignal): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    onStop = () => resolve(false);
    if (stop?.aborted) resolve(false);
    else stop?.addEventListener('abort', onStop, { once: true });
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop?.removeEventListener('abort', onStop);
  }
}

/** Run a worker until `signal` aborts and the drain is over. */
export function runWorker<P extends JsonObject = JsonObject, C = undefined>(
  opts: WorkerOptions<P, C>,
): Promise<WorkerSummary> {
  return new Worker(opts).run();
}

export type { Lease };
