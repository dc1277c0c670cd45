// Operator actions shared by the HTTP API and the `contimg` CLI: alerts with their dispatcher state, the
// outbox (list, show, retry) and test notifications. Each joins the caller's transaction, so the CLI (acting
// on the database directly) and the running daemon behave the same.
import crypto from 'node:crypto';
import { alertHistory, getAlert, listAlerts, type AlertRow } from '../../lib/alerts/index.js';
import type { AlertDispatcherConfig } from '../../lib/config/sections/alert-dispatcher.js';
import { cachedStatement, type Connection } from '../../lib/db/index.js';
import { InvalidStateError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { buildContent, contentHash } from '../../lib/notifiers/content.js';
import { allAcks, ackHolds, type AckRow } from './acks.js';
import { attemptsOf, type AttemptRow } from './attempts.js';
import { compileInhibitRules, compileSilence, InhibitionIndex, silencedBy } from './mute.js';
import {
  enqueueNotification,
  getNotification,
  NOTIFICATION_STATES,
  queueOf,
  setNotificationState,
  type NotificationRow,
  type NotificationState,
  type OutboxCtx,
} from './outbox.js';
import { unexpiredSilences } from './silences.js';
import { firingViews, routingLabels } from './store.js';
import { enqueue } from '../../lib/queue/index.js';

export interface AlertWithState extends AlertRow {
  /** firing (delivered), muted (silenced or inhibited), acked, or resolved. */
  state: 'firing' | 'muted' | 'acked' | 'resolved';
  silencedBy: string | null;
  inhibited: boolean;
  ack: AckRow | null;
}

export function alertsWithState(
  conn: Connection,
  cfg: Pick<AlertDispatcherConfig, 'inhibit'>,
  now: number,
  filter: { status?: 'firing' | 'resolved'; limit?: number } = {},
): AlertWithState[] {
  const silences = unexpiredSilences(conn, now).map(compileSilence);
  const inhibition = new InhibitionIndex(compileInhibitRules(cfg.inhibit), firingViews(conn));
  const acks = allAcks(conn);
  return listAlerts(conn, filter).map((a) => {
    const labels = routingLabels(a.labels, a.severity, a.source);
    const silenced = a.status === 'firing' ? silencedBy(labels, silences, now) : null;
    const inhibited =
      a.status === 'firing' && inhibition.inhibitedBy({ fingerprint: a.fingerprint, labels }) !== null;
    const ack = acks.get(a.fingerprint) ?? null;
    const acked = ack !== null && ackHolds(ack, a, now);
    const state =
      a.status === 'resolved' ? 'resolved' : silenced || inhibited ? 'muted' : acked ? 'acked' : 'firing';
    return { ...a, state, silencedBy: silenced, inhibited, ack };
  });
}

export function showAlert(
  conn: Connection,
  cfg: Pick<AlertDispatcherConfig, 'inhibit'>,
  fingerprint: string,
  now: number,
) {
  const alert = getAlert(conn, fingerprint);
  if (!alert) throw new NotFoundError(`no alert with fingerprint ${fingerprint}`, { fingerprint });
  const state = alertsWithState(conn, cfg, now, { limit: 100_000 }).find(
    (a) => a.fingerprint === fingerprint,
  )!;
  const external = cachedStatement(
    conn,
    'SELECT origin, origin_fingerprint AS originFingerprint, generator_url AS generatorUrl, group_key AS groupKey, resolve_at AS resolveAt FROM external_alerts WHERE fingerprint = ?',
  ).get(fingerprint) as Record<string, unknown> | undefined;
  return { ...state, external: external ?? null, history: alertHistory(conn, fingerprint) };
}

export interface OutboxListItem {
  id: number;
  receiver: string;
  kind: string;
  state: NotificationState;
  attempts: number;
  groupKey: string;
  createdAt: number;
  sentAt: number | null;
}

export function listOutbox(
  conn: Connection,
  f: { state?: string; receiver?: string; limit?: number } = {},
): OutboxListItem[] {
  if (f.state !== undefined && !NOTIFICATION_STATES.includes(f.state as NotificationState))
    throw new ValidationError(`state: expected one of ${NOTIFICATION_STATES.join(', ')}`);
  return cachedStatement(
    conn,
    `SELECT id, receiver, kind, state, attempts, group_key AS groupKey, created_at AS createdAt, sent_at AS sentAt
     FROM notifications WHERE (@state IS NULL OR state = @state) AND (@receiver IS NULL OR receiver = @receiver)
     ORDER BY id DESC LIMIT @limit`,
  ).all({ state: f.state ?? null, receiver: f.receiver ?? null, limit: f.limit ?? 100 }) as OutboxListItem[];
}

export function showOutbox(conn: Connection, id: number): NotificationRow & { attemptLog: AttemptRow[] } {
  const n = getNotification(conn, id);
  if (!n) throw new NotFoundError(`no notification ${id}`, { id });
  return { ...n, attemptLog: attemptsOf(conn, id) };
}

/**
 * Send a dead (or waiting) notification again now, with a fresh job and attempts counted from 1; held back
 * behind another of its group that is in flight. Sent and superseded ones are refused (409).
 */
export function retryNotification(conn: Connection, id: number, oc: OutboxCtx): NotificationRow {
  const n = getNotification(conn, id);
  if (!n) throw new NotFoundError(`no notification ${id}`, { id });
  if (!['dead', 'retry_wait', 'pending'].includes(n.state))
    throw new InvalidStateError(
      `notification ${id} is ${n.state}: only dead or waiting ones can be retried`,
      { id, state: n.state },
    );
  if (n.jobId !== null) {
    try {
      oc.queue.cancel(n.jobId);
    } catch {
      // dead or finished: nothing to cancel
    }
  }
  const busy = cachedStatement(
    conn,
    "SELECT 1 FROM notifications WHERE receiver = ? AND group_key = ? AND state = 'sending' AND id <> ?",
  ).get(n.receiver, n.groupKey, id);
  if (busy)
    setNotificationState(conn, id, 'held', oc.now, { job_id: null, next_attempt_at: null, dead_at: null });
  else {
    const { job } = enqueue(
      conn,
      {
        queue: queueOf(n.receiver),
        kind: 'deliver',
        payload: { notificationId: id },
        dedupeKey: `n${id}`,
        maxAttempts: oc.maxAttempts,
      },
      oc.now,
    );
    setNotificationState(conn, id, 'pending', oc.now, {
      job_id: job.id,
      next_attempt_at: oc.now,
      dead_at: null,
    });
  }
  return getNotification(conn, id)!;
}

/** Queue a test message to one receiver; the dispatcher delivers it like any other. */
export function enqueueTest(
  conn: Connection,
  receiver: string,
  p: { cfg: AlertDispatcherConfig; by: string; host: string; externalUrl: string },
  oc: OutboxCtx,
): { id: number; state: NotificationState } {
  if (!p.cfg.receivers.some((r) => r.name === receiver))
    throw new NotFoundError(
      `no receiver named "${receiver}" (receivers: ${p.cfg.receivers.map((r) => r.name).join(', ')})`,
      {
        receiver,
      },
    );
  const content = buildContent({
    kind: 'test',
    receiver,
    groupKey: `test:${oc.now}`,
    groupLabels: {},
    firing: [],
    resolved: [],
    maxAlerts: 1,
    externalUrl: p.externalUrl,
    host: p.host,
    now: oc.now,
    note: `Test notification to ${receiver}, requested by ${p.by} at ${new Date(oc.now).toISOString()}. No action needed.`,
  });
  const nonce = crypto.randomUUID();
  const r = enqueueNotification(
    conn,
    {
      receiver,
      groupKey: `test:${nonce}`,
      kind: 'test',
      content: { ...content, status: 'firing' },
      hash: contentHash([], [], nonce),
      epoch: 0,
    },
    oc,
  );
  return { id: r.id, state: r.state };
}
