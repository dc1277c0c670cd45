// One header → one observation row, the detector step and its consequences, in the caller's transaction:
// segment rows, pointing_changes, events and alerts commit together or not at all.
import { isObservable, isoUtc, type Calibrator, type Site } from '../../lib/astro/index.js';
import { raiseAlert, resolveAlert } from '../../lib/alerts/index.js';
import type { Connection } from '../../lib/db/index.js';
import { appendEvent } from '../../lib/events/index.js';
import type { HeaderPointing } from '../../lib/uvh5/pointing.js';
import { stepDetector, type DetectorAction, type DetectorConfig, type DetectorState } from './detector.js';
import { candidatesFor, type ScheduleConfig } from './schedule.js';
import {
  closeSegment,
  currentSegment,
  insertChange,
  insertObservation,
  insertSegment,
  updateSegment,
} from './store.js';

export const COMPONENT = { component: 'pointing' };

export interface IngestContext {
  conn: Connection;
  nowMs: number;
  detector: DetectorState;
  detectorCfg: DetectorConfig;
  scheduleCfg: ScheduleConfig;
  calibrators: readonly Calibrator[];
  site: Site;
  envelope: { elMinDeg: number; elMaxDeg: number };
  reader: string;
}

export interface IngestResult {
  recorded: boolean;
  detector: DetectorState;
  actions: DetectorAction[];
}

export function ingestObservation(
  ctx: IngestContext,
  groupId: string,
  p: HeaderPointing & { decDeg: number },
): IngestResult {
  const { conn, nowMs } = ctx;
  const recorded = insertObservation(
    conn,
    {
      groupId,
      sourcePath: p.path,
      startUnix: p.startUtcMs / 1000,
      midUnix: p.midUtcMs / 1000,
      endUnix: p.endUtcMs / 1000,
      midMjd: p.midMjd,
      decDeg: p.decDeg,
      haDeg: p.haDeg,
      raAppDeg: p.raAppDeg,
      lstHours: p.lstHours,
    },
    nowMs,
    ctx.reader,
  );
  if (!recorded) return { recorded, detector: ctx.detector, actions: [] };
  appendEvent(
    conn,
    {
      topic: 'pointing',
      type: 'pointing.observation',
      payload: { groupId, midUtc: p.midUtc, decDeg: p.decDeg, haDeg: p.haDeg, raAppDeg: p.raAppDeg },
    },
    nowMs,
  );
  const step = stepDetector(
    ctx.detector,
    { groupId, midUnix: p.midUtcMs / 1000, decDeg: p.decDeg },
    ctx.detectorCfg,
  );
  for (const a of step.actions) applyAction(ctx, a);
  return { recorded, detector: step.state, actions: step.actions };
}

function applyAction(ctx: IngestContext, a: DetectorAction): void {
  const { conn, nowMs } = ctx;
  switch (a.kind) {
    case 'started':
      insertSegment(conn, a.segment);
      declinationAlerts(ctx, a.segment.decDeg);
      return;
    case 'extended': {
      const cur = currentSegment(conn);
      if (cur) updateSegment(conn, cur.id, a.segment);
      else insertSegment(conn, a.segment);
      return;
    }
    case 'slewing':
      appendEvent(conn, { topic: 'pointing', type: 'pointing.slewing', payload: a }, nowMs);
      return;
    case 'glitch_dropped':
      appendEvent(conn, { topic: 'pointing', type: 'pointing.glitch_dropped', payload: a }, nowMs);
      return;
    case 'confirmed':
      confirmChange(ctx, a);
      return;
  }
}

function confirmChange(ctx: IngestContext, a: Extract<DetectorAction, { kind: 'confirmed' }>): void {
  const { conn, nowMs } = ctx;
  const old = currentSegment(conn);
  if (old) closeSegment(conn, old.id, a.old.endUnix);
  const newId = insertSegment(conn, a.segment);
  const candidates = candidatesFor(ctx.calibrators, a.segment.decDeg, ctx.scheduleCfg).map((c) => ({
    name: c.cal.name,
    decSepDeg: c.decSepDeg,
    pbResponse: c.pbResponse,
    fluxJy: c.cal.fluxJy,
  }));
  insertChange(conn, {
    detectedUnix: nowMs / 1000,
    oldDecDeg: a.old.decDeg,
    newDecDeg: a.segment.decDeg,
    deltaDeg: a.deltaDeg,
    firstGroupId: a.segment.firstGroupId,
    firstMidUnix: a.segment.startUnix,
    confirmGroups: a.groups.length,
    segmentIdOld: old?.id ?? newId,
    segmentIdNew: newId,
    candidates,
  });
  const payload = {
    oldDecDeg: a.old.decDeg,
    newDecDeg: a.segment.decDeg,
    deltaDeg: a.deltaDeg,
    firstGroupId: a.segment.firstGroupId,
    firstMidUtc: isoUtc(a.segment.startUnix * 1000),
    candidates,
  };
  appendEvent(conn, { topic: 'pointing', type: 'pointing.dec_changed', payload }, nowMs);
  // Info alert, one episode per change: resolve the previous one, then fire.
  resolveAlert(conn, { alertname: 'PointingDeclinationChanged', labels: COMPONENT }, nowMs);
  raiseAlert(
    conn,
    {
      alertname: 'PointingDeclinationChanged',
      severity: 'info',
      labels: COMPONENT,
      annotations: {
        summary: `pointing declination changed from ${a.old.decDeg.toFixed(4)}° to ${a.segment.decDeg.toFixed(4)}°`,
        candidates: candidates.map((c) => c.name).join(', ') || 'none',
      },
      source: 'pointing-monitor',
    },
    nowMs,
  );
  declinationAlerts(ctx, a.segment.decDeg);
}

/** NoCalibratorForDeclination and PointingOutsideEnvelope for a (new) stable declination. */
export function declinationAlerts(ctx: IngestContext, decDeg: number): void {
  const { conn, nowMs } = ctx;
  const dec = decDeg.toFixed(4);
  if (candidatesFor(ctx.calibrators, decDeg, ctx.scheduleCfg).length === 0) {
    raiseAlert(
      conn,
      {
        alertname: 'NoCalibratorForDeclination',
        severity: 'warning',
        labels: COMPONENT,
        annotations: {
          summary: `no calibrator within ${ctx.scheduleCfg.decToleranceDeg}° of declination ${dec}° with beam response ≥ ${ctx.scheduleCfg.minPbResponse}`,
          action:
            'import the VLA calibrator list (contimg pointing calibrators import) or add one under pointingMonitor.calibrators',
          decDeg: dec,
        },
        source: 'pointing-monitor',
      },
      nowMs,
    );
  } else resolveAlert(conn, { alertname: 'NoCalibratorForDeclination', labels: COMPONENT }, nowMs);
  if (!isObservable(decDeg, ctx.site.latDeg, ctx.envelope)) {
    raiseAlert(
      conn,
      {
        alertname: 'PointingOutsideEnvelope',
        severity: 'warning',
        labels: COMPONENT,
        annotations: {
          summary: `declination ${dec}° is outside the elevation envelope ${ctx.envelope.elMinDeg}–${ctx.envelope.elMaxDeg}°`,
          decDeg: dec,
        },
        source: 'pointing-monitor',
      },
      nowMs,
    );
  } else resolveAlert(conn, { alertname: 'PointingOutsideEnvelope', labels: COMPONENT }, nowMs);
}
