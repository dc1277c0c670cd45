// How a worker records the end of an attempt: the queue's change (complete, fail → retry or dead, release)
// and the daemon's onSettle hook in one transaction, so a domain write that fails rolls the queue change back
// too. A lease found lost changes nothing in the queue; the hook still sees it (decision `lost`) in a
// transaction of its own, to keep the attempt's own facts. Settles that arrive together (jobs finishing in
// the same microtask round) are written in one transaction, each in its own savepoint, so one that fails does
// not undo the others. The write waits for the lock as long as the worker lets it (db.writeAsync yields
// meanwhile): a finished job must not lose its outcome to a short lock and run again after its lease expires.
import type { BackoffPolicy } from '../backoff.js';
import type { Connection, Db } from '../db/index.js';
import { LeaseLostError } from '../errors.js';
import { completeIn, failIn, releaseIn } from './ops.js';
import type { SqliteQueueStore } from './store.js';
import type {
  JobOutcome,
  JsonObject,
  Lease,
  SettleDecision,
  SettleEvent,
  Settlement,
  SettlingJob,
  WorkerHooks,
} from './types.js';

/** onSettle refused (the domain had settled this attempt already): roll everything back. */
class Refused extends Error {}

interface Pending<P, C> {
  job: SettlingJob<P>;
  claim: C | undefined;
  settlement: Settlement;
  /** The lease is known lost (a heartbeat found it, and counted it): no queue write, straight to `lost`. */
  lost: boolean;
  resolve: (e: SettleEvent<P, C> | null) => void;
  reject: (e: unknown) => void;
}

/** The outcome label of contimg_queue_outcomes_total for a decision (lost is no outcome: nothing changed). */
export function outcomeLabel(d: SettleDecision): JobOutcome | null {
  return d.state === 'lost' ? null : d.state;
}

export class Settler<P extends JsonObject, C> {
  private batch: Pending<P, C>[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Db,
    private readonly store: SqliteQueueStore,
    private readonly hooks: WorkerHooks<P, C>,
    private readonly o: {
      /** How long a settle may wait for the write lock: until this aborts (the worker gives up). */
      giveUp: AbortSignal;
      /** The worker's retry delays, over the store's, for failures that bring none of their own. */
      retryPolicy?: BackoffPolicy;
    },
  ) {}

  /**
   * Record one attempt's end. Resolves with what was recorded (the event the hooks saw), or null when
   * onSettle refused; rejects when the write failed (nothing recorded: the caller may try again).
   */
  settle(
    job: SettlingJob<P>,
    claim: C | undefined,
    settlement: Settlement,
    o: { lost?: boolean } = {},
  ): Promise<SettleEvent<P, C> | null> {
    return new Promise((resolve, reject) => {
      this.batch.push({ job, claim, settlement, lost: o.lost ?? false, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.batch.splice(0);
    const results: ({ ok: SettleEvent<P, C> | null } | { err: unknown })[] = [];
    try {
      await this.db.writeAsync(
        (conn) => {
          results.length = 0;
          for (const p of batch) results.push(this.one(conn, p));
        },
        { budgetMs: Infinity, signal: this.o.giveUp },
      );
      batch.forEach((p, i) => {
        const r = results[i];
        if ('err' in r) p.reject(r.err);
        else p.resolve(r.ok);
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      if (this.batch.length) queueMicrotask(() => void this.flush());
      else this.scheduled = false;
    }
  }

  /** One settle in its own savepoint; a lost lease is recorded for the hooks in a second one. */
  private one(conn: Connection, p: Pending<P, C>): { ok: SettleEvent<P, C> | null } | { err: unknown } {
    if (!p.lost) {
      try {
        return { ok: this.db.write(() => this.apply(conn, p)) };
      } catch (e) {
        if (e instanceof Refused) return { ok: null };
        if (!(e instanceof LeaseLostError)) return { err: e };
      }
      this.store.countLeaseLost();
    }
    const ev: SettleEvent<P, C> = { job: p.job, claim: p.claim, decision: { state: 'lost' } };
    try {
      this.db.write((c) => {
        if (this.hooks.onSettle?.(c, ev) === false) throw new Refused();
      });
      return { ok: ev };
    } catch (e) {
      return e instanceof Refused ? { ok: null } : { err: e };
    }
  }

  private apply(conn: Connection, p: Pending<P, C>): SettleEvent<P, C> {
    const ev: SettleEvent<P, C> = {
      job: p.job,
      claim: p.claim,
      decision: decide(conn, this.store, p.job.lease, p.settlement, this.o.retryPolicy),
    };
    if (this.hooks.onSettle?.(conn, ev) === false) throw new Refused();
    return ev;
  }
}

/** The queue's change for a settlement, and what the queue decided. */
function decide(
  conn: Connection,
  store: SqliteQueueStore,
  lease: Lease,
  s: Settlement,
  retryPolicy?: BackoffPolicy,
): SettleDecision {
  const now = store.clock.now();
  switch (s.settle) {
    case 'done':
      completeIn(conn, lease, s.result, now);
      return { state: 'done', result: s.result };
    case 'released':
      releaseIn(conn, lease, now);
      return { state: 'released' };
    case 'failed': {
      const policy = s.retryPolicy ?? retryPolicy;
      const r = failIn(conn, lease, s.error, store.failOptions(s.retryable, policy), now);
      return r.state === 'queued'
        ? { state: 'retry', runAt: r.runAt, error: r.error, cause: s.error }
        : { state: 'dead', error: r.error, buried: false, cause: s.error };
    }
  }
}
