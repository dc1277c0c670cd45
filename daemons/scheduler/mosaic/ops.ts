// Operators' actions on mosaic builds (`contimg mosaic requeue | cancel | pause | resume`,
// cli/mosaic-ops.ts): each is one write transaction on the state database, so the plan, its `mosaic` job, the
// pause rows, the events and the alerts never disagree. A running build is not killed by a cancel here: its job
// is cancelled, the dispatcher's heartbeat finds the lease gone and stops the builder (SIGTERM to its group,
// SIGKILL after killGraceS), and the attempt is closed as aborted.
import type { Db } from '../../../lib/db/index.js';
import { InvalidStateError, NotFoundError } from '../../../lib/errors.js';
import { jobIn, SqliteQueueStore } from '../../../lib/queue/index.js';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import { resolveAlert } from '../../../lib/alerts/index.js';
import { cachedStatement as st } from '../../../lib/db/index.js';
import { enqueueBuild } from './dispatch-jobs.js';
import { DISPATCH_PAUSED } from './dispatch-gate.js';
import { emit, resolveBuildFailed } from './dispatch-outcome.js';
import * as S from './dispatch-store.js';

const REQUEUEABLE: readonly S.PlanState[] = ['failed', 'cancelled', 'retry_wait', 'queued'];
const CANCELLABLE: readonly S.PlanState[] = ['queued', 'retry_wait', 'building'];

function planOrThrow(db: Db, ref: string | number): S.PlanRow {
  const p = db.read((c) => (typeof ref === 'number' ? S.getPlan(c, ref) : S.planByName(c, ref)));
  if (!p) throw new NotFoundError(`no mosaic plan ${ref}`);
  return p;
}

/**
 * Build a plan again: a failed or cancelled plan (or one waiting for its retry) goes back to `queued` with a
 * fresh job (full attempt budget), and its MosaicBuildFailed resolves.
 */
export function requeuePlan(
  db: Db,
  cfg: MosaicConfig,
  ref: string | number,
  o: { by: string; now: number },
): { plan: string; jobId: number } {
  const p = planOrThrow(db, ref);
  if (!REQUEUEABLE.includes(p.state))
    throw new InvalidStateError(
      `mosaic plan ${p.name} is ${p.state}; only ${REQUEUEABLE.join(', ')} can be requeued`,
    );
  const store = new SqliteQueueStore(db);
  return db.write((conn) => {
    const old = p.job_id === null ? undefined : jobIn(conn, p.job_id);
    if (old && (old.state === 'queued' || old.state === 'running')) store.cancel(old.id);
    if (!S.casPlan(conn, p.id, REQUEUEABLE, 'queued', o.now, { attempts: 0, error_code: null, error: null }))
      throw new InvalidStateError(`mosaic plan ${p.name} changed meanwhile`);
    const job = enqueueBuild(conn, p, cfg.builder.maxAttempts, o.now, old?.id ?? null);
    emit(conn, 'requeued', { plan: p.name, planId: p.id, by: o.by, jobId: job.id }, o.now);
    resolveBuildFailed(conn, p, o.now);
    return { plan: p.name, jobId: job.id };
  });
}

/** Cancel a plan that has not finished: its job is cancelled (a running build is stopped by its dispatcher). */
export function cancelPlan(
  db: Db,
  ref: string | number,
  o: { by: string; now: number },
): { plan: string; was: string } {
  const p = planOrThrow(db, ref);
  if (!CANCELLABLE.includes(p.state) && p.state !== 'failed')
    throw new InvalidStateError(`mosaic plan ${p.name} is ${p.state}; nothing to cancel`);
  const store = new SqliteQueueStore(db);
  return db.write((conn) => {
    const job = p.job_id === null ? undefined : jobIn(conn, p.job_id);
    if (job && (job.state === 'queued' || job.state === 'running')) {
      try {
        store.cancel(job.id);
      } catch (e) {
        if (!(e instanceof InvalidStateError)) throw e;
      }
    }
    if (!S.casPlan(conn, p.id, [...CANCELLABLE, 'failed'], 'cancelled', o.now))
      throw new InvalidStateError(`mosaic plan ${p.name} changed meanwhile`);
    emit(conn, 'cancelled', { plan: p.name, planId: p.id, by: o.by, was: p.state }, o.now);
    resolveBuildFailed(conn, p, o.now);
    return { plan: p.name, was: p.state };
  });
}

/** Pause dispatch (builds already running go on). Idempotent: a second pause keeps the first one's start. */
export function pauseDispatch(db: Db, o: { by: string; note?: string; now: number }): { since: number } {
  return db.write((conn) => {
    st(
      conn,
      'INSERT OR IGNORE INTO mosaic_dispatch_pauses (reason, since, by, note) VALUES (?, ?, ?, ?)',
    ).run('operator', o.now, o.by, o.note ?? null);
    emit(conn, 'dispatch_paused', { reason: 'operator', by: o.by }, o.now);
    const r = st(conn, "SELECT since FROM mosaic_dispatch_pauses WHERE reason = 'operator'").get() as {
      since: number;
    };
    return { since: r.since };
  });
}

/** Lift the operator's pause (disk pauses lift themselves); its MosaicDispatchPaused resolves. */
export function resumeDispatch(db: Db, o: { by: string; now: number }): { wasPaused: boolean } {
  return db.write((conn) => {
    const r = st(conn, "DELETE FROM mosaic_dispatch_pauses WHERE reason = 'operator'").run();
    if (r.changes > 0) emit(conn, 'dispatch_resumed', { reason: 'operator', by: o.by }, o.now);
    resolveAlert(conn, { alertname: DISPATCH_PAUSED, labels: { reason: 'operator' } }, o.now);
    return { wasPaused: r.changes > 0 };
  });
}
