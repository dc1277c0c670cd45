// Findings become alerts: a check states every alert of its names that should be firing now, and
// reconcileAlerts raises those (refreshing the ones already firing: no new episode) and resolves every other
// firing alert of those names. Runs inside the transaction that records the run, so an alert never
// disagrees with the run that found it.
import {
  alertFingerprint,
  firingLabelSets,
  raiseAlert,
  resolveAlert,
  type Labels,
  type Severity,
} from '../../lib/alerts/index.js';
import type { Connection } from '../../lib/db/index.js';

export interface Finding {
  alertname: string;
  severity: Severity;
  labels: Labels;
  summary: string;
  description?: string;
  /** The measured value behind the finding, as text (annotations are strings). */
  value?: string;
}

/** The runbook section for an alert: docs/runbook.md has one heading per alertname. */
export const runbookUrl = (alertname: string): string => `docs/runbook.md#${alertname.toLowerCase()}`;

export function annotationsOf(f: Finding): Record<string, string> {
  return {
    summary: f.summary,
    ...(f.description !== undefined && { description: f.description }),
    runbook_url: runbookUrl(f.alertname),
    ...(f.value !== undefined && { value: f.value }),
  };
}

export function raiseFinding(
  conn: Connection,
  f: Finding,
  source: string,
  host: string,
  nowMs: number,
): void {
  raiseAlert(
    conn,
    {
      alertname: f.alertname,
      severity: f.severity,
      labels: { ...f.labels, host },
      annotations: annotationsOf(f),
      source,
    },
    nowMs,
  );
}

/**
 * Make the firing alerts named in `alertnames` (within `scope`) exactly `findings`, each with `host` added to
 * its labels.
 * Returns how many were raised (new or refreshed) and resolved.
 */
export function reconcileAlerts(
  conn: Connection,
  o: {
    source: string;
    host: string;
    alertnames: readonly string[];
    /** Only firing alerts carrying these labels are this call's business (e.g. one job's alert). */
    scope?: Labels;
  },
  findings: readonly Finding[],
  nowMs: number,
): { raised: number; resolved: number } {
  const wanted = new Set<string>();
  for (const f of findings) {
    if (!o.alertnames.includes(f.alertname))
      throw new Error(`finding ${f.alertname} is not one of this check's alert names`);
    raiseFinding(conn, f, o.source, o.host, nowMs);
    wanted.add(alertFingerprint(f.alertname, { ...f.labels, host: o.host }));
  }
  let resolved = 0;
  for (const alertname of o.alertnames) {
    for (const labels of firingLabelSets(conn, alertname)) {
      if (o.scope && Object.entries(o.scope).some(([k, v]) => labels[k] !== v)) continue;
      if (wanted.has(alertFingerprint(alertname, labels))) continue;
      if (resolveAlert(conn, { alertname, labels }, nowMs).resolved) resolved++;
    }
  }
  return { raised: findings.length, resolved };
}
