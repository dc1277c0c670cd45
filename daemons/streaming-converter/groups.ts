// Group membership bookkeeping: recompute a group's id and summary from its valid members and move it
// between collecting and ready (enqueueing or cancelling its conversion job). Runs inside the caller's
// write transaction.
import type { Connection } from '../../lib/db/index.js';
import { emit, type Ctx } from './context.js';
import { cancelQueued, enqueueConversion } from './jobs.js';
import { groupIdFor, isComplete } from './rules.js';
import { casGroup, getGroup, groupIdTaken, updateGroupSummary, validMembers } from './store.js';

/** Recompute summary and collecting↔ready for an open group; returns true if it just became ready. */
export function refreshGroup(ctx: Ctx, conn: Connection, ref: number, now: number): boolean {
  const g = getGroup(conn, ref);
  if (!g || (g.state !== 'collecting' && g.state !== 'ready')) return false;
  const members = validMembers(conn, ref);
  const proposed =
    groupIdFor(members.map((f) => ({ subband: f.subband, tsName: f.ts_name, tsMs: f.ts_ms }))) ?? g.group_id;
  const groupId = proposed !== g.group_id && groupIdTaken(conn, proposed, ref) ? g.group_id : proposed;
  const starts = members.map((f) => f.start_jd).filter((x): x is number => x !== null);
  const ends = members.map((f) => f.end_jd).filter((x): x is number => x !== null);
  const midJd = starts.length ? (Math.min(...starts) + Math.max(...ends)) / 2 : null;
  const dec = members.find((f) => f.dec_rad !== null)?.dec_rad ?? null;
  const lastFile = members.reduce((t, f) => Math.max(t, f.first_seen_at, f.mtime_ms), 0);
  updateGroupSummary(
    conn,
    ref,
    { group_id: groupId, n_valid: members.length, dec_rad: dec, mid_jd: midJd, last_file_at: lastFile },
    now,
  );
  // Membership moved (a subband joined or left, or sb00 renamed the group): watchers such as the status
  // page fill the group's subband cells from this without reading the table.
  if (members.length !== g.n_valid || groupId !== g.group_id)
    emit(
      conn,
      'group_files',
      {
        groupId,
        ...(groupId !== g.group_id ? { previousGroupId: g.group_id } : {}),
        nFiles: members.length,
        subbands: members.map((f) => f.subband),
      },
      now,
    );
  const complete = isComplete(
    members.map((f) => f.subband),
    g.expected,
  );
  if (complete && g.state === 'collecting') {
    casGroup(conn, ref, 'collecting', 'ready', now, { ready_at: now, partial: 0, attempts: 0 });
    enqueueConversion(conn, { ...g, group_id: groupId }, ctx.cfg.maxAttempts, now);
    emit(conn, 'group_ready', { groupId, nFiles: members.length }, now);
    ctx.m.assembly.observe(Math.max(0, now - g.first_seen_at) / 1000);
    ctx.log.info({ groupId, from: 'collecting', to: 'ready' }, 'group complete');
    return true;
  }
  if (!complete && g.state === 'ready' && g.partial === 0) {
    casGroup(conn, ref, 'ready', 'collecting', now, { ready_at: null });
    cancelQueued(ctx.queue, conn, g.job_id);
    ctx.log.warn({ groupId, from: 'ready', to: 'collecting' }, 'group lost a member before dispatch');
  }
  return false;
}
