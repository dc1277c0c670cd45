// The dispatch loop's SQL: alert changes past the cursor, alerts as the dispatcher sees them (with where an
// external one came from), the notification log, the cursor itself, and external alerts whose resolve time
// has passed. Reads run in db.read; the writers join the caller's transaction.
import type { Severity } from '../../lib/alerts/index.js';
import { cachedStatement, type Connection } from '../../lib/db/index.js';
import type { AlertView, Labels, Pair } from '../../lib/notifiers/content.js';
import type { NotifLog } from './flush.js';

const q = (conn: Connection, sql: string) => cachedStatement(conn, sql);

export interface AlertChange {
  id: number;
  fingerprint: string;
  event: 'fired' | 'updated' | 'resolved';
  severity: Severity;
}

export function changesAfter(conn: Connection, cursor: number, limit: number): AlertChange[] {
  return q(
    conn,
    'SELECT id, fingerprint, event, severity FROM alert_events WHERE id > ? ORDER BY id LIMIT ?',
  ).all(cursor, limit) as AlertChange[];
}

export function maxChangeId(conn: Connection): number {
  return (q(conn, 'SELECT coalesce(max(id), 0) AS id FROM alert_events').get() as { id: number }).id;
}

interface RawView {
  fingerprint: string;
  alertname: string;
  severity: Severity;
  labels: string;
  annotations: string;
  status: 'firing' | 'resolved';
  starts_at: number;
  ends_at: number | null;
  episode: number;
  source: string;
  origin: 'alertmanager' | 'prometheus' | null;
  generator_url: string | null;
  origin_starts_at: number | null;
}

const VIEW_SELECT = `SELECT a.fingerprint, a.alertname, a.severity, a.labels, a.annotations, a.status, a.starts_at,
  a.ends_at, a.episode, a.source, e.origin, e.generator_url, e.origin_starts_at
  FROM alerts a LEFT JOIN external_alerts e ON e.fingerprint = a.fingerprint`;

/** The routing label set: the alert's labels, plus severity and source when it has no such labels. */
export function routingLabels(labels: Labels, severity: Severity, source: string): Labels {
  const out: Labels = { ...labels };
  out.severity ??= severity;
  if (source) out.source ??= source;
  return out;
}

function toView(r: RawView): AlertView {
  return {
    fingerprint: r.fingerprint,
    alertname: r.alertname,
    severity: r.severity,
    status: r.status,
    episode: r.episode,
    labels: routingLabels(JSON.parse(r.labels) as Labels, r.severity, r.source),
    annotations: JSON.parse(r.annotations) as Record<string, string>,
    source: r.source,
    startsAt: r.origin_starts_at ?? r.starts_at,
    endsAt: r.ends_at,
    seenAt: r.starts_at,
    generatorUrl: r.generator_url,
    preGrouped: r.origin === 'alertmanager',
  };
}

export function alertViews(conn: Connection, fingerprints: readonly string[]): AlertView[] {
  if (fingerprints.length === 0) return [];
  return (
    q(conn, `${VIEW_SELECT} WHERE a.fingerprint IN (SELECT value FROM json_each(?))`).all(
      JSON.stringify(fingerprints),
    ) as RawView[]
  ).map(toView);
}

export function firingViews(conn: Connection): AlertView[] {
  return (q(conn, `${VIEW_SELECT} WHERE a.status = 'firing'`).all() as RawView[]).map(toView);
}

interface RawLog {
  receiver: string;
  group_key: string;
  group_labels: string;
  notified: string;
  last_notified_at: number | null;
  last_notification_id: number | null;
  repeat_epoch: number;
  thread_message_id: string | null;
}

export interface StoredLog {
  receiver: string;
  groupKey: string;
  groupLabels: Labels;
  log: NotifLog;
}

/** Logs that still matter: something announced and not yet resolved, or an open e-mail thread. */
export function liveLogs(conn: Connection): StoredLog[] {
  return (
    q(
      conn,
      "SELECT * FROM alert_groups WHERE notified <> '[]' OR thread_message_id IS NOT NULL",
    ).all() as RawLog[]
  ).map((r) => ({
    receiver: r.receiver,
    groupKey: r.group_key,
    groupLabels: JSON.parse(r.group_labels) as Labels,
    log: {
      notified: JSON.parse(r.notified) as Pair[],
      lastNotifiedAt: r.last_notified_at,
      lastNotificationId: r.last_notification_id,
      repeatEpoch: r.repeat_epoch,
      threadMessageId: r.thread_message_id,
    },
  }));
}

export function saveLog(conn: Connection, s: StoredLog, now: number): void {
  q(
    conn,
    `INSERT INTO alert_groups (receiver, group_key, group_labels, notified, last_notified_at, last_notification_id,
       repeat_epoch, thread_message_id, updated_at)
     VALUES (@receiver, @groupKey, @labels, @notified, @lastNotifiedAt, @lastNotificationId, @repeatEpoch, @thread, @now)
     ON CONFLICT (receiver, group_key) DO UPDATE SET group_labels = excluded.group_labels,
       notified = excluded.notified, last_notified_at = excluded.last_notified_at,
       last_notification_id = excluded.last_notification_id, repeat_epoch = excluded.repeat_epoch,
       thread_message_id = excluded.thread_message_id, updated_at = excluded.updated_at`,
  ).run({
    receiver: s.receiver,
    groupKey: s.groupKey,
    labels: JSON.stringify(s.groupLabels),
    notified: JSON.stringify(s.log.notified),
    lastNotifiedAt: s.log.lastNotifiedAt,
    lastNotificationId: s.log.lastNotificationId,
    repeatEpoch: s.log.repeatEpoch,
    thread: s.log.threadMessageId,
    now,
  });
}

export function saveCursor(conn: Connection, lastEventId: number, now: number): void {
  q(
    conn,
    `INSERT INTO dispatcher_cursor (id, last_event_id, updated_at) VALUES (1, ?, ?)
     ON CONFLICT (id) DO UPDATE SET last_event_id = excluded.last_event_id, updated_at = excluded.updated_at`,
  ).run(lastEventId, now);
}

/** Firing external alerts that were not refreshed by their resolve time. */
export function expiredExternal(conn: Connection, now: number): { alertname: string; labels: Labels }[] {
  return (
    q(
      conn,
      `SELECT a.alertname, a.labels FROM external_alerts e JOIN alerts a ON a.fingerprint = e.fingerprint
       WHERE e.resolve_at IS NOT NULL AND e.resolve_at <= ? AND a.status = 'firing'`,
    ).all(now) as { alertname: string; labels: string }[]
  ).map((r) => ({ alertname: r.alertname, labels: JSON.parse(r.labels) as Labels }));
}

/** Per receiver: notifications not yet delivered and the oldest one's creation time. */
export function pendingByReceiver(conn: Connection): Map<string, { n: number; oldest: number }> {
  const rows = q(
    conn,
    `SELECT receiver, count(*) AS n, min(created_at) AS oldest FROM notifications
     WHERE state IN ('held', 'pending', 'sending', 'retry_wait') GROUP BY receiver`,
  ).all() as { receiver: string; n: number; oldest: number }[];
  return new Map(rows.map((r) => [r.receiver, { n: r.n, oldest: r.oldest }]));
}

/** Retention: finished notifications (and, by cascade, their attempts) and idle logs older than the cutoff. */
export function pruneOld(conn: Connection, cutoff: number, batch: number): number {
  const n = q(
    conn,
    `DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
       WHERE state IN ('sent', 'dead', 'superseded') AND updated_at < ? LIMIT ?)`,
  ).run(cutoff, batch).changes;
  q(
    conn,
    "DELETE FROM alert_groups WHERE notified = '[]' AND thread_message_id IS NULL AND updated_at < ?",
  ).run(cutoff);
  return n;
}
