// Alerts about the pointing monitor's inputs (data staleness, the IERS table's age), raised and resolved in
// the caller's transaction together with the matching `pointing.*` event.
import { raiseAlert, resolveAlert } from '../../lib/alerts/index.js';
import type { Connection } from '../../lib/db/index.js';
import { appendEvent } from '../../lib/events/index.js';
import { COMPONENT } from './ingest.js';

export function raiseDataStale(
  conn: Connection,
  now: number,
  p: { silentForSec: number; staleAfterS: number; lastObservationUtc: string | null },
): void {
  raiseAlert(
    conn,
    {
      alertname: 'PointingDataStale',
      severity: 'warning',
      labels: COMPONENT,
      annotations: {
        summary: `no new sb00 header for ${p.silentForSec} s (threshold ${p.staleAfterS} s)`,
        action: 'check the streaming converter and /data/incoming; the alert resolves on the next header',
      },
      source: 'pointing-monitor',
    },
    now,
  );
  const payload = { lastObservationUtc: p.lastObservationUtc, silentForSec: p.silentForSec };
  appendEvent(conn, { topic: 'pointing', type: 'pointing.stale', payload }, now);
}

export function resolveDataStale(conn: Connection, now: number, lastObservationUtc: string): void {
  resolveAlert(conn, { alertname: 'PointingDataStale', labels: COMPONENT }, now);
  appendEvent(conn, { topic: 'pointing', type: 'pointing.resumed', payload: { lastObservationUtc } }, now);
}

/** PointingEopStale while the IERS table's last measured value is older than maxAgeDays (never for a constant). */
export function updateEopAlert(
  conn: Connection,
  now: number,
  ageDays: number | null,
  maxAgeDays: number,
): void {
  if (ageDays !== null && ageDays > maxAgeDays) {
    raiseAlert(
      conn,
      {
        alertname: 'PointingEopStale',
        severity: 'warning',
        labels: COMPONENT,
        annotations: {
          summary: `IERS table's last measured UT1−UTC is ${Math.floor(ageDays)} days old`,
          action: 'copy a fresh finals2000A.all to site.iersFile',
        },
        source: 'pointing-monitor',
      },
      now,
    );
  } else resolveAlert(conn, { alertname: 'PointingEopStale', labels: COMPONENT }, now);
}
