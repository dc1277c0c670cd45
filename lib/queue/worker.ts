// The one queue worker. It claims up to `concurrency` jobs behind a claim gate and runs each (job-run.ts:
// the handler with an AbortSignal for job timeout, shutdown and a lost lease; heartbeats every leaseMs/3
// until the attempt is recorded; the settle, settle.ts). A daemon joins its own rows to the queue's through
// hooks that run inside the queue's transactions (types.ts, WorkerHooks; the claim round is claim-round.ts):
// on claim (compare-and-set, attempt rows), on settle (with the queue's decision), and for a job a claim
// buried. Payloads of a typed worker are checked at claim. run() drives the claims on lib/loop (woken by
// in-process enqueues, commits elsewhere, freed slots); a daemon with its own main loop calls fill() from it
// instead, and hands the worker what its crash recovery finds (adopt, settleFor). Nothing here throws out of
// the loop: errors are logged, counted and backed off. On abort it stops claiming, waits for in-flight jobs
// up to drainMs (or the hard stop), then aborts them and, after abortGraceMs, hands back what still runs.
import { systemClock } from '../clock.js';
import { LeaseLostError, ShutdownError } from '../errors.js';
import { leaseOwner } from '../leases/index.js';
import { silentLogger } from '../log.js';
import { Loop } from '../loop.js';
import { claimRound, type ClaimRound } from './claim-round.js';
import { JobRunner } from './job-run.js';
import { Settler } from './settle.js';
import { onQueueChange, SqliteQueueStore } from './store.js';
import type {
  JobHandler,
  JsonObject,
  Lease,
  SettleDecision,
  Settlement,
  SettlingJob,
  WorkerHooks,
} from './types.js';
import {
  ERROR_BACKOFF,
  safeDataVersion,
  settledWithin,
  type InFlight,
  type Resolved,
  type WorkerOptions,
  type WorkerSummary,
} from './worker-options.js';

export { JobTimeoutError, type WorkerOptions, type WorkerSummary } from './worker-options.js';

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
  private readonly runner: JobRunner<P, C>;
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
    this.runner = new JobRunner(
      this.o,
      this.x,
      this.store,
      this.settler,
      this.hooks,
      this.giveUp,
      this.summary,
      (e, msg) => this.countError(e, msg),
    );
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
    this.store.countClaim(queue, r.run.length + r.skipped.length, [
      ...r.buried.map((e) => e.job),
      ...r.buriedUnfit.map((u) => u.job),
    ]);
    for (const { job, error } of r.buriedUnfit)
      log.warn(
        { jobId: job.id, err: error },
        'claim buried a job whose last attempt lost its holder (dead); its payload does not fit its type',
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
    const ev = await this.runner.settleRetrying(() => job, claim, settlement, log, {});
    if (ev) this.runner.recorded(ev, log, settlement);
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
    entry.done = this.runner.execute(entry, body).finally(() => {
      this.inflight.delete(job.id);
      this.x.onInFlight?.(this.inflight.size);
      this.loop?.wake();
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
    else
      hardStop?.addEventListener(
        'abort',
        giveUp,
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: the finally below removes the
        // listener whichever way the wait ends, so `once` only saves that removal after a hard stop.
        { once: true },
      );
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

/** Run a worker until `signal` aborts and the drain is over. */
export function runWorker<P extends JsonObject = JsonObject, C = undefined>(
  opts: WorkerOptions<P, C>,
): Promise<WorkerSummary> {
  return new Worker(opts).run();
}

export type { Lease };
