// The status snapshot's parts, read from the shared state database through each daemon's own store and admin
// functions (the same ones its API and the CLI use), so every daemon serves the same page. Each reader is
// pure over one read transaction; `readSnapshot` runs the asked parts and the newest event seq in a single
// transaction, so the page can subscribe from that seq without a gap or a repeat.
import path from 'node:path';
import { alertsWithState } from '../../daemons/alert-dispatcher/admin.js';
import { transitsEndingAfter } from '../../daemons/pointing-monitor/store.js';
import { readStatus } from '../../daemons/pointing-monitor/store.js';
import { scheduleConfigFrom, windowAt } from '../../daemons/pointing-monitor/schedule.js';
import type { StatusSnapshot as PointingSnapshot } from '../../daemons/pointing-monitor/status.js';
import {
  groupFiles,
  listGroups,
  type FileRow,
  type GroupView as GroupRow,
} from '../../daemons/streaming-converter/store.js';
import { newestDone, storedMetadata, type ThumbRow } from '../../daemons/thumbnail-worker/store.js';
import type {
  AlertView,
  CellState,
  ClockPart,
  GroupView,
  MetadataView,
  PartName,
  PointingPart,
  StatusSnapshot,
  ThumbnailView,
  TransitView,
} from '../../web/status/contract.js';
import { lstHours } from '../astro/index.js';
import type { Config } from '../config/index.js';
import type { Connection } from '../db/index.js';
import { maxEventSeq } from '../events/index.js';
import { schedulerPart } from './scheduler-part.js';

/** How many of each the page shows. */
export const LIMITS = { groups: 24, transits: 6, thumbnails: 8, alerts: 200 } as const;

/** Sidereal hours per solar hour (the ratio of the mean solar to the mean sidereal day). */
export const SIDEREAL_RATE = 1.00273790935;

export interface PartsContext {
  config: Config;
  /** The daemon serving the page. */
  name: string;
  actor: string;
}

type Reader = (conn: Connection, ctx: PartsContext, now: number) => unknown;

function pointingSnapshot(conn: Connection): { snap: PointingSnapshot; updatedMs: number } | null {
  const r = readStatus(conn);
  return r ? { snap: r.snapshot as PointingSnapshot, updatedMs: Math.round(r.updatedUnix * 1000) } : null;
}

function clockPart(conn: Connection, ctx: PartsContext, now: number): ClockPart {
  const site = ctx.config.site;
  // The pointing monitor's UT1−UTC (it may come from an IERS table) when it has written one.
  const dut1S = pointingSnapshot(conn)?.snap.dut1S ?? site.dut1Seconds;
  return {
    site: { name: site.name, latDeg: site.latDeg, lonDeg: site.lonDeg },
    lst: { refMs: now, hours: lstHours(now, { lonDeg: site.lonDeg, dut1S }), rate: SIDEREAL_RATE, dut1S },
    servedBy: ctx.name,
    actor: ctx.actor,
  };
}

function pointingPart(conn: Connection, ctx: PartsContext): PointingPart {
  const p = pointingSnapshot(conn);
  const s = p?.snap;
  return {
    decDeg: s?.decDeg ?? null,
    elevationDeg: s?.elevationDeg ?? null,
    state: s?.state ?? 'unknown',
    stale: s?.stale ?? false,
    lastObservationMs: s?.lastObservationUtc ? Date.parse(s.lastObservationUtc) : null,
    activeCalibrator: s?.activeCalibrator?.name ?? null,
    transitModel: s?.transitModel ?? ctx.config.pointingMonitor.transitModel,
    updatedMs: p?.updatedMs ?? null,
  };
}

/**
 * The stored schedule from now on: the calibrators usable at the current pointing (the pointing monitor's
 * own `windowAt` rule) and its watch list, as computeSchedule chooses them.
 */
function transitsPart(conn: Connection, ctx: PartsContext, now: number): TransitView[] {
  const pm = ctx.config.pointingMonitor;
  const cfg = scheduleConfigFrom(pm);
  const decDeg = pointingSnapshot(conn)?.snap.decDeg ?? null;
  const out: TransitView[] = [];
  for (const t of transitsEndingAfter(conn, pm.transitModel, now / 1000, 50)) {
    const eligible = t.calDecDeg !== null && windowAt({ decDeg: t.calDecDeg }, decDeg, cfg).eligible;
    if (!eligible && !pm.watchCalibrators.includes(t.name)) continue;
    out.push({
      name: t.name,
      transitMs: Math.round(t.transitUnix * 1000),
      windowStartMs: t.windowStartUnix === null ? null : Math.round(t.windowStartUnix * 1000),
      windowEndMs: t.windowEndUnix === null ? null : Math.round(t.windowEndUnix * 1000),
      eligible,
      fluxJy: t.fluxJy,
      hasData: t.hasData,
    });
    if (out.length === LIMITS.transits) break;
  }
  return out;
}

/** The precedence of file states for one subband slot: the file that fills it, else what went wrong. */
const CELL_ORDER: readonly CellState[] = ['valid', 'changed', 'gone', 'late', 'duplicate', 'invalid'];

export function cellsOf(files: readonly Pick<FileRow, 'subband' | 'state'>[], expected: number): CellState[] {
  const cells: CellState[] = Array.from({ length: expected }, () => 'missing');
  for (const f of files) {
    if (f.subband < 0 || f.subband >= expected) continue;
    const state = f.state as CellState;
    if (!CELL_ORDER.includes(state)) continue;
    const cur = cells[f.subband];
    if (cur === 'missing' || CELL_ORDER.indexOf(state) < CELL_ORDER.indexOf(cur)) cells[f.subband] = state;
  }
  return cells;
}

export function groupView(g: GroupRow, files: readonly Pick<FileRow, 'subband' | 'state'>[]): GroupView {
  return {
    groupId: g.group_id,
    state: g.state,
    nFiles: g.n_valid,
    expected: g.expected,
    cells: cellsOf(files, g.expected),
    anchorMs: g.anchor_ms,
    dispatchedAt: g.dispatched_at,
    finishedAt: g.finished_at,
    conversionMs:
      g.state === 'converted' && g.dispatched_at !== null && g.finished_at !== null
        ? g.finished_at - g.dispatched_at
        : null,
    attempts: g.attempts,
    partial: g.partial === 1,
    errorCode: g.error_code,
    error: g.error === null ? null : g.error.slice(0, 300),
  };
}

function groupsPart(conn: Connection): GroupView[] {
  return listGroups(conn, undefined, LIMITS.groups, 0).map((g) => groupView(g, groupFiles(conn, g.id)));
}

export function thumbnailView(t: ThumbRow): ThumbnailView {
  return {
    id: t.id,
    fitsPath: t.fits_path,
    name: path.basename(t.fits_path),
    variant: t.variant,
    qaGrade: t.qa_grade,
    width: t.width,
    height: t.height,
    renderedAt: t.rendered_at,
    version: t.updated_at,
  };
}

function thumbnailsPart(conn: Connection): ThumbnailView[] {
  return newestDone(conn, LIMITS.thumbnails).map(thumbnailView);
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The stored header metadata and statistics of a thumbnail's source (no file is read). */
export function metadataView(conn: Connection, t: ThumbRow): MetadataView | null {
  const r = storedMetadata(conn, t.fits_path);
  if (!r) return null;
  let naxis: number[] = [];
  try {
    naxis = JSON.parse(String(r.naxis_json)) as number[];
  } catch {
    /* a malformed row shows no axes */
  }
  return {
    object: str(r.object),
    telescope: str(r.telescope),
    dateObs: str(r.date_obs),
    bunit: str(r.bunit),
    raDeg: num(r.ra_deg),
    decDeg: num(r.dec_deg),
    freqHz: num(r.freq_hz),
    bandwidthHz: num(r.bandwidth_hz),
    bmajDeg: num(r.bmaj_deg),
    bminDeg: num(r.bmin_deg),
    bpaDeg: num(r.bpa_deg),
    naxis,
    madStd: num(r.mad_std),
    peakAbs: num(r.peak_abs),
    dynamicRange: num(r.dynamic_range),
    qaGrade: str(r.qa_grade),
    nFinite: num(r.n_finite),
    current: r.fingerprint === t.src_fingerprint,
  };
}

function alertsPart(conn: Connection, ctx: PartsContext, now: number): AlertView[] {
  const rows = alertsWithState(conn, ctx.config.alertDispatcher, now, {
    status: 'firing',
    limit: LIMITS.alerts,
  });
  return rows
    .filter((a) => a.state !== 'resolved')
    .map((a) => ({
      fingerprint: a.fingerprint,
      alertname: a.alertname,
      severity: a.severity,
      state: a.state as AlertView['state'],
      summary: a.annotations.summary ?? '',
      labels: a.labels,
      startsAt: a.startsAt,
      source: a.source,
      ack:
        a.ack && a.state === 'acked'
          ? { by: a.ack.ackedBy, at: a.ack.ackedAt, comment: a.ack.comment }
          : null,
    }));
}

const READERS: Record<PartName, Reader> = {
  clock: clockPart,
  pointing: pointingPart,
  transits: transitsPart,
  groups: groupsPart,
  thumbnails: thumbnailsPart,
  alerts: alertsPart,
  scheduler: (conn, ctx) => schedulerPart(conn, ctx.config),
};

/** The asked parts and the newest event seq, read in one transaction (the caller's db.read). */
export function readSnapshot(
  conn: Connection,
  ctx: PartsContext,
  parts: readonly PartName[],
  now: number,
): StatusSnapshot {
  const out: Record<string, unknown> = { seq: maxEventSeq(conn), serverTime: now };
  for (const p of parts) out[p] = READERS[p](conn, ctx, now);
  return out as unknown as StatusSnapshot;
}
