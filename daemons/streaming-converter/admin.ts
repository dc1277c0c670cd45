// Operator actions and read models shared by the CLI (`contimg converter …`) and the daemon's JSON API.
// Each action is a compare-and-set of the group with its conversions job (redrive a dead one, enqueue a new
// one with a parent link, or cancel a queued one) and its event in one transaction, so it is safe while the
// daemon runs. A converting group is never requeued; abandoning it cancels its running job, whose holder
// stops the work when its lease is lost (the local converter is stopped, a Slurm job scancel'ed; the CLI
// also scancels a Slurm job itself, so it stops even while the daemon is down).
import type { Connection, Db } from '../../lib/db/index.js';
import { InvalidStateError, NotFoundError } from '../../lib/errors.js';
import { emit, resolve } from './context.js';
import { cancelQueued, enqueueConversion, jobView } from './jobs.js';
import { SqliteQueueStore } from '../../lib/queue/index.js';
import { isComplete, type GroupState } from './rules.js';
import * as S from './store.js';

export interface GroupSummary {
  groupId: string;
  state: GroupState;
  nFiles: number;
  expected: number;
  attempts: number;
  outputPath: string | null;
  anchor: string;
  firstSeenAt: string;
  readyAt: string | null;
  dispatchedAt: string | null;
  finishedAt: string | null;
  nextAttemptAt: string | null;
  partial: boolean;
  decDeg: number | null;
  midJd: number | null;
  errorCode: string | null;
  error: string | null;
  /** What ran (or runs) the newest attempt: local or slurm; null before the first dispatch. */
  executor: S.ExecutorKind | null;
  /** The newest attempt's Slurm job id and last state seen (null for local attempts). */
  slurmJobId: string | null;
  slurmState: string | null;
}

type LastAttempt = Pick<S.AttemptRow, 'executor' | 'slurm_job_id' | 'slurm_state'> | undefined;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function summarize(g: S.GroupView, last: LastAttempt): GroupSummary {
  return {
    groupId: g.group_id,
    state: g.state,
    nFiles: g.n_valid,
    expected: g.expected,
    attempts: g.attempts,
    outputPath: g.output_path,
    anchor: new Date(g.anchor_ms).toISOString(),
    firstSeenAt: iso(g.first_seen_at)!,
    readyAt: iso(g.ready_at),
    dispatchedAt: iso(g.dispatched_at),
    finishedAt: iso(g.finished_at),
    nextAttemptAt: iso(g.next_attempt_at),
    partial: g.partial === 1,
    decDeg: g.dec_rad === null ? null : (g.dec_rad * 180) / Math.PI,
    midJd: g.mid_jd,
    errorCode: g.error_code,
    error: g.error,
    executor: last?.executor ?? null,
    slurmJobId: last?.slurm_job_id ?? null,
    slurmState: last?.slurm_state ?? null,
  };
}

/** One group's summary read in the caller's transaction. */
function summaryOf(conn: Connection, ref: number): GroupSummary {
  return summarize(S.getGroupView(conn, ref)!, S.latestAttempts(conn, [ref]).get(ref));
}

export function listGroupSummaries(db: Db, state?: string, limit = 1000, offset = 0): GroupSummary[] {
  return db.read((c) => {
    const groups = S.listGroups(c, state, limit, offset);
    const last = S.latestAttempts(
      c,
      groups.map((g) => g.id),
    );
    return groups.map((g) => summarize(g, last.get(g.id)));
  });
}

function mustGet(conn: Connection, groupId: string): S.GroupView {
  const row = S.getGroupById(conn, groupId);
  const g = row && S.getGroupView(conn, row.id);
  if (!g) throw new NotFoundError(`no group ${groupId}`, { groupId });
  return g;
}

export function showGroup(db: Db, groupId: string) {
  return db.read((c) => {
    const g = mustGet(c, groupId);
    return {
      ...summarize(g, S.latestAttempts(c, [g.id]).get(g.id)),
      files: S.groupFiles(c, g.id).map((f) => ({
        subband: f.subband,
        path: f.path,
        state: f.state,
        reason: f.reason,
        size: f.size,
      })),
      attemptsDetail: S.attemptsOf(c, g.id).map((a) => ({
        attempt: a.attempt,
        outcome: a.outcome,
        startedAt: iso(a.started_at),
        endedAt: iso(a.ended_at),
        pid: a.pid,
        exitCode: a.exit_code,
        signal: a.signal,
        error: a.error,
        manifestPath: a.manifest_path,
        stderrTail: a.stderr_tail,
        executor: a.executor,
        slurmJobId: a.slurm_job_id,
        slurmJobName: a.slurm_job_name,
        slurmState: a.slurm_state,
      })),
    };
  });
}

const REQUEUEABLE: GroupState[] = ['failed', 'incomplete', 'abandoned', 'converted', 'retry_wait'];

/**
 * Put a group back in line. Complete groups (and any group with `partial`) go to ready with the attempt
 * budget reset; an incomplete group without `partial` goes back to collecting with its timeout restarted.
 * `by` (who asked, when known) is recorded in the `converter.requeued` event.
 */
export function requeueGroup(
  db: Db,
  groupId: string,
  now: number,
  opts: { partial?: boolean; maxAttempts?: number; by?: string } = {},
): GroupSummary {
  const queue = new SqliteQueueStore(db);
  return db.write((conn) => {
    const g = mustGet(conn, groupId);
    if (!REQUEUEABLE.includes(g.state))
      throw new InvalidStateError(
        `group ${groupId} is ${g.state}; requeue needs one of ${REQUEUEABLE.join(', ')}`,
        { state: g.state },
      );
    const complete = isComplete(
      S.validMembers(conn, g.id).map((f) => f.subband),
      g.expected,
    );
    const to: GroupState = complete || opts.partial ? 'ready' : 'collecting';
    const set =
      to === 'ready'
        ? {
            ready_at: now,
            attempts: 0,
            partial: complete ? 0 : 1,
            finished_at: null,
            error: null,
            error_code: null,
          }
        : {
            first_seen_at: now,
            ready_at: null,
            attempts: 0,
            finished_at: null,
            error: null,
            error_code: null,
          };
    if (!S.casGroup(conn, g.id, g.state, to, now, set))
      throw new InvalidStateError(`group ${groupId} changed state; try again`);
    requeueJob(queue, conn, g, to, now, opts.maxAttempts);
    const by = opts.by ? { by: opts.by } : {};
    emit(conn, 'requeued', { groupId, from: g.state, to, partial: to === 'ready' && !complete, ...by }, now);
    resolve(conn, 'ConverterGroupFailed', { group: groupId }, now);
    resolve(conn, 'ConverterGroupIncomplete', { group: groupId }, now);
    resolve(conn, 'ConverterInputGone', { group: groupId }, now);
    return summaryOf(conn, g.id);
  });
}

/**
 * The job side of a requeue: a dead job is redriven (attempts reset); otherwise a queued one is cancelled
 * and, for `ready`, a new job is enqueued with the previous one as its parent.
 */
function requeueJob(
  queue: SqliteQueueStore,
  conn: Connection,
  g: S.GroupRow,
  to: GroupState,
  now: number,
  maxAttempts?: number,
): void {
  const prev = jobView(conn, g.job_id);
  if (to === 'ready' && prev?.state === 'dead') {
    queue.redrive(g.job_id!);
    return;
  }
  cancelQueued(queue, conn, g.job_id);
  // The parent link only when the previous job still exists: retention may have pruned it (parent_id is a
  // foreign key, so a dangling id would make every later requeue of this group fail).
  if (to === 'ready')
    enqueueConversion(conn, g, maxAttempts ?? prev?.maxAttempts ?? 3, now, prev ? g.job_id : null);
}

const ABANDONABLE: GroupState[] = ['collecting', 'ready', 'converting', 'retry_wait', 'incomplete', 'failed'];

/** The group's open attempt (what still runs for it), if any: `converter abandon` stops its Slurm job. */
export function openAttemptOfGroup(db: Db, groupId: string): S.AttemptRow | undefined {
  return db.read((c) => {
    const g = S.getGroupById(c, groupId);
    return g ? S.openAttemptOf(c, g.id) : undefined;
  });
}

export function abandonGroup(db: Db, groupId: string, now: number): GroupSummary {
  const queue = new SqliteQueueStore(db);
  return db.write((conn) => {
    const g = mustGet(conn, groupId);
    if (!ABANDONABLE.includes(g.state))
      throw new InvalidStateError(
        `group ${groupId} is ${g.state}; abandon needs one of ${ABANDONABLE.join(', ')}`,
        { state: g.state },
      );
    if (!S.casGroup(conn, g.id, g.state, 'abandoned', now, { finished_at: now }))
      throw new InvalidStateError(`group ${groupId} changed state; try again`);
    if (g.state === 'converting' && jobView(conn, g.job_id)?.state === 'running') queue.cancel(g.job_id!);
    else cancelQueued(queue, conn, g.job_id);
    emit(conn, 'abandoned', { groupId, from: g.state }, now);
    resolve(conn, 'ConverterGroupFailed', { group: groupId }, now);
    resolve(conn, 'ConverterGroupIncomplete', { group: groupId }, now);
    resolve(conn, 'ConverterInputGone', { group: groupId }, now);
    return summaryOf(conn, g.id);
  });
}
