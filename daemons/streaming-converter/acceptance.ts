// Judging a settled file: the inspection result makes it invalid, keeps it settling (a writer still at
// work), or makes it valid and places it into a group (or marks it late or duplicate). Runs inside the
// caller's write transaction.
import path from 'node:path';
import type { Connection } from '../../lib/db/index.js';
import type { Uvh5Inspection } from '../../lib/uvh5/index.js';
import { alert, emit, type Ctx } from './context.js';
import { refreshGroup } from './groups.js';
import { placeFile } from './rules.js';
import * as S from './store.js';

export function acceptFile(
  ctx: Ctx,
  conn: Connection,
  row: S.FileRow,
  res: Uvh5Inspection,
  now: number,
  settleDue: Map<string, number>,
): void {
  const { cfg, m, log } = ctx;
  const current = S.getFile(conn, row.path);
  if (!current || (current.state !== row.state && current.state !== 'settling')) return;
  settleDue.delete(row.path);
  if (!res.ok) {
    const waiting = res.reason === 'open_for_write' || res.reason === 'truncated';
    if (waiting && now - row.first_seen_at < cfg.maxSettleS * 1000) {
      // A stalled writer or a copy still growing: stay settling and look again later.
      S.markRecheck(conn, row.path, res.reason, now);
      settleDue.set(row.path, now + cfg.settleS * 1000);
      return;
    }
    if (res.reason === 'unreadable') S.markRecheck(conn, row.path, 'unreadable', now);
    S.setFileState(conn, row.path, 'invalid', res.reason, now);
    if (row.state !== 'invalid') m.files.inc({ result: 'invalid', reason: res.reason });
    log.warn({ path: row.path, to: 'invalid', reason: res.reason, detail: res.detail }, 'file rejected');
    return;
  }
  const h = res.header;
  const mismatch =
    cfg.expectedNfreqs > 0 && h.nfreqs !== cfg.expectedNfreqs
      ? `Nfreqs ${h.nfreqs}, expected ${cfg.expectedNfreqs}`
      : h.phaseCenterDecRad === null
        ? 'no extra_keywords/phase_center_dec'
        : null;
  if (mismatch) {
    S.setFileState(conn, row.path, 'invalid', 'header_mismatch', now);
    m.files.inc({ result: 'invalid', reason: 'header_mismatch' });
    log.warn({ path: row.path, to: 'invalid', reason: 'header_mismatch', detail: mismatch }, 'file rejected');
    return;
  }
  if (cfg.expectedNtimes > 0 && h.ntimes !== cfg.expectedNtimes)
    log.warn(
      { path: row.path, ntimes: h.ntimes, expected: cfg.expectedNtimes },
      'unexpected Ntimes (accepted)',
    );
  placeValid(
    ctx,
    conn,
    row,
    {
      start_jd: h.timesJd[0],
      end_jd: h.timesJd[h.timesJd.length - 1],
      dec_rad: h.phaseCenterDecRad,
      ha_rad: h.haPhaseCenterRad,
      nfreqs: h.nfreqs,
      ntimes: h.ntimes,
      freq_min_hz: Math.min(...h.freqsHz),
      freq_max_hz: Math.max(...h.freqsHz),
    },
    now,
  );
}

function placeValid(ctx: Ctx, conn: Connection, row: S.FileRow, h: S.HeaderFields, now: number): void {
  const { cfg, m, log } = ctx;
  const tol = cfg.groupToleranceS * 1000;
  const near = S.groupsNear(conn, row.ts_ms, tol).map((g) => ({
    ref: g.id,
    anchorMs: g.anchor_ms,
    state: g.state,
  }));
  const where = placeFile(row.ts_ms, near, tol);
  if (where.kind === 'late') {
    const g = S.getGroup(conn, where.ref)!;
    S.setFileState(conn, row.path, 'late', `group ${g.state}`, now, g.id);
    m.files.inc({ result: 'late', reason: g.state });
    emit(conn, 'file_late', { path: row.path, groupId: g.group_id, groupState: g.state }, now);
    alert(
      conn,
      'ConverterLateFile',
      'warning',
      { group: g.group_id },
      `${row.name} arrived after its group was ${g.state}`,
      now,
    );
    log.warn({ path: row.path, groupId: g.group_id, to: 'late' }, 'late file');
    return;
  }
  const ref =
    where.kind === 'join'
      ? where.ref
      : S.insertGroup(conn, row.ts_name, row.ts_ms, cfg.expectedSubbands, now);
  const holder = S.slotHolder(conn, ref, row.subband);
  if (holder && holder !== row.path) {
    const g = S.getGroup(conn, ref)!;
    S.setFileState(conn, row.path, 'duplicate', `slot held by ${path.basename(holder)}`, now, ref);
    m.files.inc({ result: 'duplicate', reason: 'slot_taken' });
    emit(conn, 'file_duplicate', { path: row.path, holder, groupId: g.group_id, subband: row.subband }, now);
    alert(
      conn,
      'ConverterDuplicateSubband',
      'warning',
      { group: g.group_id, subband: String(row.subband) },
      `${row.name} duplicates ${path.basename(holder)}`,
      now,
    );
    log.warn({ path: row.path, groupId: g.group_id, to: 'duplicate' }, 'duplicate subband');
    return;
  }
  S.markValid(conn, row.path, ref, h, now);
  m.files.inc({ result: 'valid', reason: '' });
  m.lastValidFile.set(now / 1000);
  refreshGroup(ctx, conn, ref, now);
}
