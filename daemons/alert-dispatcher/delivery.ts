// One delivery worker per receiver, on the one loop helper: while the circuit admits and the token bucket has
// a token, claim the receiver's next due job (lib/queue lease + fencing token), open its attempt row, send
// through the receiver's notifier with a timeout, then settle. Sends run concurrently up to the receiver's
// `concurrency`; the outbox guarantees that two of one group are never in flight together.
import { defaultRate, type ReceiverConfig } from '../../lib/config/sections/alert-dispatcher-receivers.js';
import { cachedStatement, type Connection, type Db } from '../../lib/db/index.js';
import { ShutdownError } from '../../lib/errors.js';
import { startLoop, type Loop } from '../../lib/loop.js';
import type { DeliveryOutcome, Notifier } from '../../lib/notifiers/index.js';
import { UNFINISHED, type ClaimedJob } from '../../lib/queue/index.js';
import { closeCrashed, openAttempt } from './attempts.js';
import type { Ctx } from './context.js';
import { getNotification, queueOf, setNotificationState, type NotificationRow } from './outbox.js';
import { CircuitBreaker, TokenBucket } from './policy.js';
import { failOverStuck, releaseAttempt, settleMany, type SettleItem, type Settled } from './settle.js';

const CLAIMABLE = `SELECT 1 FROM jobs WHERE queue = ? AND ${UNFINISHED} AND ((state = 'queued' AND run_at <= ?)
  OR (state = 'running' AND lease_expires_at < ?)) LIMIT 1`;
const NEXT_DUE = `SELECT min(run_at) AS at FROM jobs WHERE queue = ? AND state = 'queued' AND ${UNFINISHED}`;

/** ReceiverWorker's nextDue inside a read: `now` when a job is due or a lease expired, else the next run_at. */
export function nextDueIn(c: Connection, queue: string, now: number): number {
  if (cachedStatement(c, CLAIMABLE).get(queue, now, now) !== undefined) return now;
  const r = cachedStatement(c, NEXT_DUE).get(queue) as { at: number | null };
  return r.at ?? Infinity;
}

interface Claimed {
  job: ClaimedJob;
  n: NotificationRow;
  attemptId: number;
}

export class ReceiverWorker {
  readonly circuit: CircuitBreaker;
  private readonly bucket: TokenBucket;
  private readonly inFlight = new Map<number, Promise<void>>();
  /** The claims being sent, to keep their leases alive. */
  private readonly claims = new Map<number, Claimed>();
  private readonly queue: string;
  private loop: Loop | undefined;
  private done: Promise<void> = Promise.resolve();
  private lastFailoverCheck = 0;
  private readonly settles: {
    item: SettleItem;
    resolve: (s: Settled) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private settleScheduled = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly rcfg: ReceiverConfig,
    private readonly notifier: Notifier,
    private readonly hardStop: AbortSignal,
  ) {
    const rate = rcfg.rate ?? defaultRate(rcfg.type);
    this.bucket = new TokenBucket(rate.perMinute, rate.burst, ctx.clock.now());
    this.circuit = new CircuitBreaker(ctx.cfg.circuit.failureThreshold, ctx.cfg.circuit.openS * 1000);
    this.queue = queueOf(rcfg.name);
  }

  get name(): string {
    return this.rcfg.name;
  }

  start(signal: AbortSignal): void {
    const { loop, done } = startLoop({
      name: `deliver:${this.rcfg.name}`,
      everyMs: this.ctx.cfg.delivery.pollMs,
      signal,
      clock: this.ctx.clock,
      log: this.ctx.log,
      onError: () => this.ctx.m.loopErrors.inc({ loop: 'delivery' }),
      tick: () => this.tick(),
    });
    this.loop = loop;
    this.done = done;
  }

  /** Claim now (after an enqueue in this process, or a send finished). */
  wake(): void {
    this.loop?.wake();
  }

  /** Resolves when the loop has stopped and every send in flight has settled (or been handed back). */
  async stopped(): Promise<void> {
    await this.done;
    await Promise.all(this.inFlight.values());
  }

  private async tick(): Promise<number> {
    const now = this.ctx.clock.now();
    await this.renewLeases(now);
    const state = this.circuit.state(now);
    this.ctx.m.circuitOpen.set({ receiver: this.rcfg.name }, state === 'closed' ? 0 : 1);
    if (state !== 'closed') await this.failOverIfStuck(now);
    let next = now + this.ctx.cfg.delivery.pollMs;
    while (this.inFlight.size < this.rcfg.concurrency) {
      const s = this.circuit.state(now);
      if (s === 'open') return Math.min(next, this.circuit.reopensAt);
      if (s === 'half_open' && this.inFlight.size > 0) break;
      const tokenAt = this.bucket.nextAt(now);
      if (tokenAt > now) return Math.min(next, tokenAt);
      const due = this.nextDue(now);
      if (due > now) return Math.min(next, due);
      // As many as there are free slots and tokens (one probe when half open), in one transaction.
      const limit = Math.min(
        this.rcfg.concurrency - this.inFlight.size,
        this.bucket.available(now),
        s === 'half_open' ? 1 : Infinity,
      );
      const claimed = await this.claim(now, limit);
      if (claimed.length === 0) break;
      for (const c of claimed) {
        this.circuit.admit(now);
        this.bucket.tryTake(now);
        this.send(c);
      }
      next = now;
    }
    return next;
  }

  /**
   * A send normally ends long before its lease (timeout + leaseSlackS); renewing leases past half-time keeps a
   * slow commit or a wall-clock step from letting this very process (or another) claim a job being sent.
   */
  private async renewLeases(now: number): Promise<void> {
    for (const c of this.claims.values()) {
      if (c.job.lease.expiresAt - now > this.leaseMs / 2) continue;
      try {
        c.job.lease = await this.ctx.db.writeAsync(() => this.ctx.queue.heartbeat(c.job.lease, this.leaseMs));
      } catch (e) {
        this.ctx.log.warn({ err: e, notificationId: c.n.id }, 'could not renew a delivery lease');
      }
    }
  }

  private get leaseMs(): number {
    return this.notifier.timeoutMs + this.ctx.cfg.delivery.leaseSlackS * 1000;
  }

  private async failOverIfStuck(now: number): Promise<void> {
    if (now - this.lastFailoverCheck < 1000) return;
    this.lastFailoverCheck = now;
    await failOverStuck(this.ctx, this.rcfg.name, `${this.rcfg.name} circuit open`);
  }

  /**
   * A cheap read before the claim's write: `now` when a job is due (or a lease expired), else when the next
   * queued one is (a retry's backoff ending between two polls is claimed on time), else Infinity.
   */
  private nextDue(now: number): number {
    return this.ctx.db.read((c) => nextDueIn(c, this.queue, now));
  }

  /** Claim one job and, in the same transaction, open its attempt (closing any a crash left open). */
  private claim(now: number, limit: number): Promise<Claimed[]> {
    const { ctx } = this;
    const leaseMs = this.leaseMs;
    return ctx.db.writeAsync((conn) => {
      const out: Claimed[] = [];
      for (const job of ctx.queue.claim({ queue: this.queue, owner: ctx.owner, leaseMs, limit })) {
        const id = Number(job.payload.notificationId);
        const n = getNotification(conn, id);
        if (
          !n ||
          n.jobId !== job.id ||
          n.state === 'sent' ||
          n.state === 'superseded' ||
          n.state === 'held'
        ) {
          ctx.queue.complete(job.lease, { skipped: `notification ${id} is ${n?.state ?? 'gone'}` });
          continue;
        }
        const crashed = closeCrashed(conn, id, now);
        if (crashed) ctx.m.attempts.inc({ receiver: n.receiver, result: 'crashed' }, crashed);
        const attemptId = openAttempt(
          conn,
          {
            notificationId: id,
            attemptNo: job.attempts,
            jobId: job.id,
            leaseToken: job.lease.token,
            owner: ctx.owner,
            plainText: n.plainText,
          },
          now,
        );
        setNotificationState(conn, id, 'sending', now, { attempts: job.attempts });
        out.push({ job, n: { ...n, attempts: job.attempts }, attemptId });
      }
      return out;
    });
  }

  private send(c: Claimed): void {
    const p = this.deliver(c)
      .catch((e: unknown) => {
        this.ctx.m.loopErrors.inc({ loop: 'delivery' });
        this.ctx.log.error(
          { err: e, notificationId: c.n.id },
          'could not record a delivery; its lease will expire and it is retried',
        );
      })
      .finally(() => {
        this.inFlight.delete(c.job.id);
        this.claims.delete(c.job.id);
        this.wake();
      });
    this.inFlight.set(c.job.id, p);
    this.claims.set(c.job.id, c);
  }

  private async deliver(c: Claimed): Promise<void> {
    const { ctx, notifier } = this;
    const receiver = this.rcfg.name;
    const signal = AbortSignal.any([this.hardStop, AbortSignal.timeout(notifier.timeoutMs)]);
    const t0 = ctx.clock.monotonic();
    let outcome: DeliveryOutcome;
    try {
      outcome = await notifier.notify(
        {
          id: c.n.id,
          dedupKey: c.n.dedupKey,
          receiver,
          kind: c.n.kind,
          content: c.n.content,
          attempt: c.job.attempts,
          messageId: c.n.messageId ?? `<${c.n.dedupKey}@contimg>`,
          plainText: c.n.plainText,
        },
        signal,
      );
    } catch (e) {
      // Notifiers classify their own failures; anything thrown is a bug, recorded and retried like an error.
      outcome = {
        ok: false,
        failure: {
          result: 'error',
          disposition: 'retry',
          error: `notifier failed: ${String(e).slice(0, 200)}`,
        },
      };
    }
    const ms = ctx.clock.monotonic() - t0;
    if (this.hardStop.aborted && this.hardStop.reason instanceof ShutdownError && !outcome.ok) {
      await releaseAttempt(ctx, c, ms);
      this.circuit.onNeutral();
      return;
    }
    ctx.m.deliverySeconds.observe({ receiver }, ms / 1000);
    ctx.m.attempts.inc({ receiver, result: outcome.ok ? 'ok' : outcome.failure.result });
    const s = await this.settle({ c, outcome, durationMs: ms });
    this.record(c, outcome, s);
  }

  /** Queue an outcome; outcomes that arrive together are recorded in one transaction. */
  private settle(item: SettleItem): Promise<Settled> {
    return new Promise((resolve, reject) => {
      this.settles.push({ item, resolve, reject });
      if (!this.settleScheduled) {
        this.settleScheduled = true;
        setImmediate(() => void this.flushSettles());
      }
    });
  }

  private async flushSettles(): Promise<void> {
    const batch = this.settles.splice(0);
    try {
      const results = await settleMany(
        this.ctx,
        batch.map((b) => b.item),
      );
      batch.forEach((b, i) => b.resolve(results[i]));
    } catch (e) {
      for (const b of batch) b.reject(e);
    } finally {
      if (this.settles.length) setImmediate(() => void this.flushSettles());
      else this.settleScheduled = false;
    }
  }

  private record(c: Claimed, outcome: DeliveryOutcome, s: Settled): void {
    const { ctx } = this;
    const receiver = this.rcfg.name;
    const log = ctx.log.child({ receiver, notificationId: c.n.id, kind: c.n.kind, attempt: c.job.attempts });
    const now = ctx.clock.now();
    switch (s.kind) {
      case 'sent':
        this.circuit.onSuccess();
        ctx.m.notifications.inc({ receiver, kind: c.n.kind, outcome: 'sent' });
        ctx.m.latencySeconds.observe({ receiver }, Math.max(0, now - c.n.createdAt) / 1000);
        log.info({ groupKey: c.n.groupKey }, 'notification sent');
        break;
      case 'retry':
      case 'dead': {
        if (s.countsForCircuit) this.circuit.onFailure(now);
        else this.circuit.onNeutral();
        const f = outcome.ok ? undefined : outcome.failure;
        const detail = { result: f?.result, error: f?.error };
        if (s.kind === 'retry') log.warn({ ...detail, retryInMs: s.delayMs }, 'delivery failed; will retry');
        else {
          ctx.m.notifications.inc({ receiver, kind: c.n.kind, outcome: 'dead' });
          log.error({ ...detail, reason: s.reason }, 'notification dead');
        }
        break;
      }
      case 'lost':
        this.circuit.onNeutral();
        log.warn('lease lost before the outcome was recorded: another dispatcher owns this notification now');
        break;
    }
    ctx.m.circuitOpen.set({ receiver }, this.circuit.state(now) === 'closed' ? 0 : 1);
  }
}

/** How often the workers look for commits by other processes (PRAGMA data_version: a cheap read). */
export const COMMIT_CHECK_MS = 100;

/**
 * Wake the workers when another process commits (another dispatcher's flush, `contimg outbox retry`): a job
 * it made due is claimed within COMMIT_CHECK_MS instead of at the next poll, as lib/queue's worker does.
 * Stops when `signal` aborts.
 */
export function wakeOnCommitsElsewhere(
  db: Db,
  workers: readonly ReceiverWorker[],
  signal: AbortSignal,
): void {
  const version = (): number => {
    try {
      return db.dataVersion();
    } catch {
      return -1; // only decides whether to wake early
    }
  };
  let seen = version();
  const timer = setInterval(() => {
    const v = version();
    if (v === seen) return;
    seen = v;
    for (const w of workers) w.wake();
  }, COMMIT_CHECK_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
