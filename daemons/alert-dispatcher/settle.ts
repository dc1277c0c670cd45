// Settling an attempt: in one transaction, fenced by the job's lease token, close the attempt row, settle the
// job (complete / retry at a computed time / dead) and the notification, hand the group's turn to a held
// newer notification, and fail a dead notification over to the receiver's fallback. Also the start-up
// recovery of attempts a killed process left open, and the fail-over of notifications stuck behind an open
// circuit.
import fs from 'node:fs';
import os from 'node:os';
import { kill as killPid } from 'node:process';
import type { BackoffPolicy } from '../../lib/backoff.js';
import type { Connection } from '../../lib/db/index.js';
import { cachedStatement } from '../../lib/db/index.js';
import { LeaseLostError } from '../../lib/errors.js';
import type { DeliveryOutcome } from '../../lib/notifiers/index.js';
import { assertJobLease, type ClaimedJob, type Lease } from '../../lib/queue/index.js';
import { closeAttempt, closeCrashed, CRASHED_ERROR, openAttemptsWithJobs } from './attempts.js';
import { outboxCtx, type Ctx } from './context.js';
import {
  enqueueNotification,
  getNotification,
  QUEUE_PREFIX,
  releaseHeld,
  setNotificationState,
  yieldToNewer,
  type NotificationRow,
  type OutboxCtx,
} from './outbox.js';
import { nextStep } from './policy.js';

const constant = (ms: number): BackoffPolicy => ({ strategy: 'constant', baseMs: ms, maxMs: ms, jitter: 0 });

export type Settled =
  | { kind: 'sent' }
  | { kind: 'retry'; delayMs: number; countsForCircuit: boolean }
  | { kind: 'dead'; reason: string; countsForCircuit: boolean }
  | { kind: 'lost' };

/** Copy a notification that could not be delivered to the receiver's fallback (at most once). */
export function failOver(
  conn: Connection,
  ctx: Ctx,
  n: NotificationRow,
  reason: string,
  oc: OutboxCtx,
): number | null {
  const fallback = ctx.cfg.failover.map[n.receiver];
  if (!fallback || n.failedOverAt !== null) return null;
  if (cachedStatement(conn, 'SELECT 1 FROM notifications WHERE failover_of = ?').get(n.id)) return null;
  const note = `Delivered to ${fallback} because ${n.receiver} could not deliver it: ${reason}`;
  const r = enqueueNotification(
    conn,
    {
      receiver: fallback,
      groupKey: `failover:${n.receiver}:${n.groupKey}`,
      kind: 'failover',
      content: {
        ...n.content,
        kind: 'failover',
        receiver: fallback,
        note: [note, n.content.note].filter(Boolean).join('\n'),
      },
      hash: n.contentHash,
      epoch: 0,
      failoverOf: n.id,
    },
    oc,
  );
  cachedStatement(conn, 'UPDATE notifications SET failed_over_at = ? WHERE id = ?').run(oc.now, n.id);
  ctx.m.failovers.inc({ receiver: n.receiver });
  ctx.m.enqueued.inc({ receiver: fallback, kind: 'failover' });
  ctx.log.warn(
    { notificationId: n.id, receiver: n.receiver, fallback, copy: r.id },
    'notification failed over',
  );
  return r.id;
}

/** dead → row dead, group's turn to the next, fail over. Inside the caller's write. */
function markDead(
  conn: Connection,
  ctx: Ctx,
  n: NotificationRow,
  lastResult: string,
  error: string,
  oc: OutboxCtx,
): void {
  setNotificationState(conn, n.id, 'dead', oc.now, {
    dead_at: oc.now,
    next_attempt_at: null,
    last_result: lastResult,
    last_error: error,
  });
  releaseHeld(conn, n.receiver, n.groupKey, oc);
  failOver(conn, ctx, { ...n, state: 'dead', lastError: error }, error, oc);
}

/** retry_wait at `runAt`; a newer notification of the group that was waiting takes over instead. */
function markRetry(
  conn: Connection,
  n: NotificationRow,
  p: { runAt: number; lastResult: string; error: string; plainText: boolean },
  oc: OutboxCtx,
): boolean {
  setNotificationState(conn, n.id, 'retry_wait', oc.now, {
    next_attempt_at: p.runAt,
    last_result: p.lastResult,
    last_error: p.error,
    plain_text: p.plainText || n.plainText ? 1 : 0,
  });
  if (!yieldToNewer(conn, n, oc)) return false;
  releaseHeld(conn, n.receiver, n.groupKey, oc);
  return true;
}

export interface SettleItem {
  c: { job: ClaimedJob; n: NotificationRow; attemptId: number };
  outcome: DeliveryOutcome;
  durationMs: number;
}

/** One attempt's outcome, inside the caller's transaction (fenced: throws LeaseLostError if not ours). */
function settleIn(conn: Connection, ctx: Ctx, item: SettleItem, now: number): Settled {
  const { c, outcome, durationMs } = item;
  const { job, n } = c;
  assertJobLease(conn, job.lease);
  const oc = outboxCtx(ctx, now);
  if (outcome.ok) {
    closeAttempt(
      conn,
      c.attemptId,
      { result: 'ok', httpStatus: outcome.httpStatus, smtpCode: outcome.smtpCode, durationMs },
      now,
    );
    ctx.queue.complete(job.lease, { sent: true });
    setNotificationState(conn, n.id, 'sent', now, {
      sent_at: now,
      next_attempt_at: null,
      last_result: 'ok',
      last_error: null,
    });
    releaseHeld(conn, n.receiver, n.groupKey, oc);
    return { kind: 'sent' };
  }
  const f = outcome.failure;
  const step = nextStep(f, {
    attempt: job.lease.attempt,
    createdAt: n.createdAt,
    now,
    resolved: n.status === 'resolved',
    s: ctx.retry,
  });
  closeAttempt(conn, c.attemptId, { ...f, durationMs }, now);
  const counts = f.disposition === 'retry' || f.disposition === 'permanent';
  if (step.action === 'retry') {
    const r = ctx.queue.fail(job.lease, new Error(f.error), {
      retryable: true,
      policy: constant(step.delayMs),
    });
    if (r.state === 'queued') {
      markRetry(
        conn,
        n,
        { runAt: r.runAt, lastResult: f.result, error: f.error, plainText: step.plainText },
        oc,
      );
      return { kind: 'retry', delayMs: step.delayMs, countsForCircuit: step.countsForCircuit };
    }
  } else ctx.queue.fail(job.lease, new Error(f.error), { retryable: false });
  markDead(conn, ctx, n, f.result, f.error, oc);
  return {
    kind: 'dead',
    reason: step.action === 'dead' ? step.reason : 'out of attempts',
    countsForCircuit: counts,
  };
}

/**
 * Record the outcomes of attempts that finished together, in one transaction; each in its own savepoint, so
 * one whose lease is no longer ours (`lost`: changed nothing) does not undo the others.
 */
export function settleMany(ctx: Ctx, items: readonly SettleItem[]): Promise<Settled[]> {
  const now = ctx.clock.now();
  return ctx.db.writeAsync(() =>
    items.map((item): Settled => {
      try {
        return ctx.db.write((conn) => settleIn(conn, ctx, item, now));
      } catch (e) {
        if (e instanceof LeaseLostError) return { kind: 'lost' };
        throw e;
      }
    }),
  );
}

/** Hand a job back at shutdown: the attempt is closed as interrupted and does not count. */
export async function releaseAttempt(
  ctx: Ctx,
  c: { job: ClaimedJob; n: NotificationRow; attemptId: number },
  durationMs: number,
): Promise<void> {
  const now = ctx.clock.now();
  try {
    await ctx.db.writeAsync((conn) => {
      assertJobLease(conn, c.job.lease);
      closeAttempt(
        conn,
        c.attemptId,
        { result: 'error', error: 'interrupted by shutdown; handed back', durationMs },
        now,
      );
      ctx.queue.release(c.job.lease);
      setNotificationState(conn, c.n.id, c.n.attempts > 1 ? 'retry_wait' : 'pending', now, {
        next_attempt_at: now,
      });
    });
  } catch (e) {
    if (!(e instanceof LeaseLostError)) throw e;
  }
}

/** A live process, by pid (a zombie counts as dead). */
function pidAlive(pid: number): boolean {
  try {
    killPid(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The job is held by another live dispatcher (here or elsewhere) within its lease: not ours to recover. */
function heldElsewhere(owner: string | null, self: string, expiresAt: number | null, now: number): boolean {
  if (owner === null || owner === self || (expiresAt ?? 0) < now) return false;
  const [host, pidText] = owner.split(':');
  if (host !== os.hostname()) return true;
  return pidAlive(Number(pidText));
}

/**
 * Start-up (and takeover) recovery: every attempt left open by a process that is gone is closed as crashed
 * and its job failed under the dead holder's own token (fenced) with the retry due at once.
 */
export async function recoverCrashed(ctx: Ctx): Promise<number> {
  let recovered = 0;
  const now = ctx.clock.now();
  for (const a of ctx.db.read((c) => openAttemptsWithJobs(c, QUEUE_PREFIX))) {
    if (
      a.jobState === 'running' &&
      a.jobToken === a.leaseToken &&
      heldElsewhere(a.leaseOwner, ctx.owner, a.leaseExpiresAt, now)
    )
      continue;
    await ctx.db.writeAsync((conn) => {
      if (closeCrashed(conn, a.notificationId, now) === 0) return;
      recovered++;
      const n = getNotification(conn, a.notificationId);
      ctx.m.attempts.inc({ receiver: n?.receiver ?? a.queue.slice(QUEUE_PREFIX.length), result: 'crashed' });
      if (!n || a.jobState !== 'running' || a.jobToken !== a.leaseToken) return;
      const lease: Lease = {
        jobId: a.jobId,
        queue: a.queue,
        owner: a.leaseOwner ?? '',
        token: a.leaseToken,
        attempt: a.attempts,
        expiresAt: a.leaseExpiresAt ?? now,
      };
      const oc = outboxCtx(ctx, now);
      try {
        const r = ctx.queue.fail(lease, new Error(CRASHED_ERROR), { retryable: true, policy: constant(0) });
        if (r.state === 'queued')
          markRetry(
            conn,
            n,
            { runAt: r.runAt, lastResult: 'crashed', error: CRASHED_ERROR, plainText: false },
            oc,
          );
        else markDead(conn, ctx, n, 'crashed', CRASHED_ERROR, oc);
      } catch (e) {
        if (!(e instanceof LeaseLostError)) throw e;
      }
    });
  }
  if (recovered) ctx.log.warn({ recovered }, 'recovered deliveries a stopped dispatcher left in flight');
  return recovered;
}

/** With the circuit open, notifications older than failover.afterS go to the fallback receiver too. */
export function failOverStuck(ctx: Ctx, receiver: string, why: string): Promise<number> {
  if (!ctx.cfg.failover.map[receiver]) return Promise.resolve(0);
  const now = ctx.clock.now();
  const cutoff = now - ctx.cfg.failover.afterS * 1000;
  return ctx.db.writeAsync((conn) => {
    const rows = cachedStatement(
      conn,
      `SELECT id FROM notifications WHERE receiver = ? AND state IN ('held', 'pending', 'retry_wait')
         AND failed_over_at IS NULL AND created_at <= ? ORDER BY id`,
    ).all(receiver, cutoff) as { id: number }[];
    let n = 0;
    for (const r of rows) {
      const row = getNotification(conn, r.id)!;
      if (
        failOver(conn, ctx, row, `${why}; last error: ${row.lastError ?? 'none'}`, outboxCtx(ctx, now)) !==
        null
      )
        n++;
    }
    return n;
  });
}
