// Alerts any daemon raises into and resolves through the `alerts` table; only the alert dispatcher delivers.
// Call these INSIDE the caller's db.write(), so the alert changes in the same transaction as the state
// that caused it. Identity is the fingerprint of the full label set (alertname included), so raising the
// same alert twice updates one row; a resolved alert that fires again starts a new episode. Every recorded
// transition is also appended to the events table (topic `alerts`), so each daemon's WebSocket streams it.
import { createHash } from 'node:crypto';
import { cachedStatement, type Connection, type Statement } from '../db/index.js';
import { ValidationError } from '../errors.js';
import { appendEvent } from '../events/index.js';

export const ALERT_TOPIC = 'alerts';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type AlertStatus = 'firing' | 'resolved';
export type Labels = Record<string, string>;

export interface RaiseInput {
  alertname: string;
  severity: Severity;
  labels: Labels;
  annotations?: Record<string, string>;
  /** Which component raised it: flux, health, converter, … (stored, not part of the identity). */
  source?: string;
}

export interface AlertRow {
  fingerprint: string;
  alertname: string;
  severity: Severity;
  labels: Labels;
  annotations: Record<string, string>;
  status: AlertStatus;
  startsAt: number;
  endsAt: number | null;
  updatedAt: number;
  episode: number;
  source: string;
}

export interface AlertEventRow {
  id: number;
  fingerprint: string;
  episode: number;
  event: 'fired' | 'updated' | 'resolved';
  severity: Severity;
  annotations: Record<string, string>;
  at: number;
}

/** The label set that defines identity: the caller's labels plus alertname (Alertmanager's convention). */
export function identityLabels(alertname: string, labels: Labels): Labels {
  if (!alertname) throw new ValidationError('alertname is required');
  if (labels.alertname !== undefined && labels.alertname !== alertname)
    throw new ValidationError('labels.alertname differs from alertname', {
      alertname,
      label: labels.alertname,
    });
  const out: Labels = {};
  for (const key of [...Object.keys(labels), 'alertname']) {
    const value = key === 'alertname' ? alertname : labels[key];
    if (typeof value !== 'string') throw new ValidationError(`label ${key} must be a string`, { key });
    out[key] = value;
  }
  return out;
}

/**
 * Canonical JSON of a flat string map: keys sorted (by UTF-16 code unit, the default sort), so equal sets
 * serialise identically. Labels are stored this way too, whatever order identityLabels built them in.
 */
function canonical(map: Record<string, string>): string {
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(map)
        .sort()
        .map((key) => [key, map[key]]),
    ),
  );
}

/**
 * SHA-256 (hex, first 16 characters) of the canonical JSON of the sorted label set including alertname.
 * Stable across processes and releases: changing it would split every open alert in two.
 */
export function alertFingerprint(alertname: string, labels: Labels): string {
  return createHash('sha256')
    .update(canonical(identityLabels(alertname, labels)))
    .digest('hex')
    .slice(0, 16);
}

interface RawAlert {
  fingerprint: string;
  alertname: string;
  severity: Severity;
  labels: string;
  annotations: string;
  status: AlertStatus;
  starts_at: number;
  ends_at: number | null;
  updated_at: number;
  episode: number;
  source: string;
}

interface Stmts {
  get: Statement<[string], RawAlert>;
  insert: Statement<[Record<string, unknown>]>;
  refresh: Statement<[Record<string, unknown>]>;
  refire: Statement<[Record<string, unknown>]>;
  resolve: Statement<[Record<string, unknown>]>;
  history: Statement<[Record<string, unknown>]>;
  list: Statement<[Record<string, unknown>], RawAlert>;
  events: Statement<[string], RawEvent>;
}

type RawEvent = Omit<AlertEventRow, 'annotations'> & { annotations: string };

// Statements are prepared once per connection.
const cache = new WeakMap<Connection, Stmts>();
function stmts(conn: Connection): Stmts {
  let s = cache.get(conn);
  if (s) return s;
  s = {
    get: conn.prepare('SELECT * FROM alerts WHERE fingerprint = ?'),
    insert: conn.prepare(
      `INSERT INTO alerts (fingerprint, alertname, severity, labels, annotations, status, starts_at, ends_at,
         updated_at, episode, source)
       VALUES (@fingerprint, @alertname, @severity, @labels, @annotations, 'firing', @now, NULL, @now, 1, @source)`,
    ),
    refresh: conn.prepare(
      `UPDATE alerts SET severity = @severity, annotations = @annotations, source = @source, updated_at = @now
       WHERE fingerprint = @fingerprint`,
    ),
    refire: conn.prepare(
      `UPDATE alerts SET severity = @severity, annotations = @annotations, source = @source, status = 'firing',
         starts_at = @now, ends_at = NULL, updated_at = @now, episode = episode + 1
       WHERE fingerprint = @fingerprint`,
    ),
    resolve: conn.prepare(
      `UPDATE alerts SET status = 'resolved', ends_at = @now, updated_at = @now
       WHERE fingerprint = @fingerprint AND status = 'firing'`,
    ),
    history: conn.prepare(
      `INSERT INTO alert_events (fingerprint, episode, event, severity, annotations, at)
       VALUES (@fingerprint, @episode, @event, @severity, @annotations, @now)`,
    ),
    list: conn.prepare(
      `SELECT * FROM alerts WHERE (@status IS NULL OR status = @status)
       ORDER BY updated_at DESC, fingerprint LIMIT @limit`,
    ),
    events: conn.prepare('SELECT * FROM alert_events WHERE fingerprint = ? ORDER BY id'),
  };
  cache.set(conn, s);
  return s;
}

/** One alert_events row plus the matching `alert.<event>` event, in the caller's transaction. */
function record(conn: Connection, event: AlertEventRow['event'], fingerprint: string, nowMs: number): void {
  const a = stmts(conn).get.get(fingerprint)!;
  stmts(conn).history.run({
    fingerprint,
    episode: a.episode,
    event,
    severity: a.severity,
    annotations: a.annotations,
    now: nowMs,
  });
  const row = toRow(a);
  appendEvent(
    conn,
    {
      topic: ALERT_TOPIC,
      type: `alert.${event}`,
      payload: {
        fingerprint,
        alertname: row.alertname,
        severity: row.severity,
        status: row.status,
        episode: row.episode,
        labels: row.labels,
        annotations: row.annotations,
        source: row.source,
      },
    },
    nowMs,
  );
}

function toRow(r: RawAlert): AlertRow {
  return {
    fingerprint: r.fingerprint,
    alertname: r.alertname,
    severity: r.severity,
    labels: JSON.parse(r.labels) as Labels,
    annotations: JSON.parse(r.annotations) as Record<string, string>,
    status: r.status,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    updatedAt: r.updated_at,
    episode: r.episode,
    source: r.source,
  };
}

/**
 * Fire (or refresh) an alert. A new or resolved alert starts an episode (`isNewEpisode`) and records
 * `fired`; re-raising a firing alert only updates severity/annotations/updated_at, recording `updated`
 * when severity or annotations actually changed (so periodic re-raises do not bloat the history).
 */
export function raiseAlert(
  conn: Connection,
  input: RaiseInput,
  nowMs: number,
): { fingerprint: string; isNewEpisode: boolean; episode: number } {
  if (!SEVERITIES.includes(input.severity))
    throw new ValidationError(`severity must be one of ${SEVERITIES.join(', ')}`, {
      severity: input.severity,
    });
  const labels = identityLabels(input.alertname, input.labels);
  const fingerprint = alertFingerprint(input.alertname, input.labels);
  const annotations = canonical(input.annotations ?? {});
  const p = { fingerprint, severity: input.severity, annotations, source: input.source ?? '', now: nowMs };
  const s = stmts(conn);
  const existing = s.get.get(fingerprint);
  if (!existing) {
    s.insert.run({ ...p, alertname: input.alertname, labels: canonical(labels) });
    record(conn, 'fired', fingerprint, nowMs);
    return { fingerprint, isNewEpisode: true, episode: 1 };
  }
  if (existing.status === 'resolved') {
    s.refire.run(p);
    record(conn, 'fired', fingerprint, nowMs);
    return { fingerprint, isNewEpisode: true, episode: existing.episode + 1 };
  }
  s.refresh.run(p);
  if (existing.severity !== input.severity || existing.annotations !== annotations)
    record(conn, 'updated', fingerprint, nowMs);
  return { fingerprint, isNewEpisode: false, episode: existing.episode };
}

/** Resolve a firing alert; `resolved: false` when it was not firing (unknown or already resolved). */
export function resolveAlert(
  conn: Connection,
  input: { alertname: string; labels: Labels },
  nowMs: number,
): { fingerprint: string; resolved: boolean } {
  const fingerprint = alertFingerprint(input.alertname, input.labels);
  const s = stmts(conn);
  const existing = s.get.get(fingerprint);
  if (!existing || existing.status !== 'firing') return { fingerprint, resolved: false };
  s.resolve.run({ fingerprint, now: nowMs });
  record(conn, 'resolved', fingerprint, nowMs);
  return { fingerprint, resolved: true };
}

export function getAlert(conn: Connection, fingerprint: string): AlertRow | undefined {
  const r = stmts(conn).get.get(fingerprint);
  return r ? toRow(r) : undefined;
}

/** Current alerts, most recently changed first. */
export function listAlerts(
  conn: Connection,
  filter: { status?: AlertStatus; limit?: number } = {},
): AlertRow[] {
  return stmts(conn)
    .list.all({ status: filter.status ?? null, limit: filter.limit ?? 1000 })
    .map(toRow);
}

/** The transition history of one alert, oldest first. */
export function alertHistory(conn: Connection, fingerprint: string): AlertEventRow[] {
  return stmts(conn)
    .events.all(fingerprint)
    .map((r) => ({ ...r, annotations: JSON.parse(r.annotations) as Record<string, string> }));
}

/**
 * The label sets of the alerts named `alertname` that are firing now: what a check compares with its current
 * findings to resolve the ones that no longer hold (a calibrator whose drift went away, a set now complete).
 */
export function firingLabelSets(conn: Connection, alertname: string): Labels[] {
  const rows = cachedStatement(
    conn,
    "SELECT labels FROM alerts WHERE alertname = ? AND status = 'firing' ORDER BY fingerprint",
  ).all(alertname) as { labels: string }[];
  return rows.map((r) => {
    const labels = JSON.parse(r.labels) as Labels;
    delete labels.alertname;
    return labels;
  });
}
