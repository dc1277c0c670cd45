// Acknowledgements: an operator takes an alert; that stops its repeats and escalation for the current firing
// episode (until `until`, if given). Resolution is still announced. Changes are also `alert.acked` /
// `alert.unacked` events, so every /ws subscriber of `alerts` sees them. Joins the caller's transaction.
import { ALERT_TOPIC, getAlert } from '../../lib/alerts/index.js';
import { cachedStatement, type Connection } from '../../lib/db/index.js';
import { InvalidStateError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { appendEvent } from '../../lib/events/index.js';

export interface AckRow {
  fingerprint: string;
  episode: number;
  ackedBy: string;
  comment: string;
  ackedAt: number;
  until: number | null;
}

interface RawAck {
  fingerprint: string;
  episode: number;
  acked_by: string;
  comment: string;
  acked_at: number;
  until: number | null;
}

const toAck = (r: RawAck): AckRow => ({
  fingerprint: r.fingerprint,
  episode: r.episode,
  ackedBy: r.acked_by,
  comment: r.comment,
  ackedAt: r.acked_at,
  until: r.until,
});

export function ackAlert(
  conn: Connection,
  fingerprint: string,
  input: { by?: unknown; comment?: unknown; until?: number | null },
  now: number,
): AckRow {
  const alert = getAlert(conn, fingerprint);
  if (!alert) throw new NotFoundError(`no alert with fingerprint ${fingerprint}`, { fingerprint });
  if (alert.status !== 'firing')
    throw new InvalidStateError(
      `alert ${fingerprint} is ${alert.status}: only a firing alert can be acknowledged`,
      { fingerprint },
    );
  const by = typeof input.by === 'string' ? input.by.trim() : '';
  if (!by) throw new ValidationError('by: required (who acknowledges)');
  const comment = typeof input.comment === 'string' ? input.comment : '';
  const until = input.until ?? null;
  if (until !== null && (!Number.isFinite(until) || until <= now))
    throw new ValidationError('until: must be in the future');
  cachedStatement(
    conn,
    `INSERT INTO alert_acks (fingerprint, episode, acked_by, comment, acked_at, until) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (fingerprint) DO UPDATE SET episode = excluded.episode, acked_by = excluded.acked_by,
       comment = excluded.comment, acked_at = excluded.acked_at, until = excluded.until`,
  ).run(fingerprint, alert.episode, by, comment, now, until);
  appendEvent(
    conn,
    {
      topic: ALERT_TOPIC,
      type: 'alert.acked',
      payload: { fingerprint, alertname: alert.alertname, episode: alert.episode, by, comment, until },
    },
    now,
  );
  return getAck(conn, fingerprint)!;
}

/** Withdraw an acknowledgement; `by` (who withdrew it, when known) goes into the `alert.unacked` event. */
export function unackAlert(conn: Connection, fingerprint: string, now: number, by?: string): void {
  const ack = getAck(conn, fingerprint);
  if (!ack) throw new NotFoundError(`alert ${fingerprint} is not acknowledged`, { fingerprint });
  cachedStatement(conn, 'DELETE FROM alert_acks WHERE fingerprint = ?').run(fingerprint);
  const payload = { fingerprint, episode: ack.episode, ...(by ? { by } : {}) };
  appendEvent(conn, { topic: ALERT_TOPIC, type: 'alert.unacked', payload }, now);
}

export function getAck(conn: Connection, fingerprint: string): AckRow | undefined {
  const r = cachedStatement(conn, 'SELECT * FROM alert_acks WHERE fingerprint = ?').get(fingerprint) as
    RawAck | undefined;
  return r ? toAck(r) : undefined;
}

export function allAcks(conn: Connection): Map<string, AckRow> {
  return new Map(
    (cachedStatement(conn, 'SELECT * FROM alert_acks').all() as RawAck[]).map((r) => [
      r.fingerprint,
      toAck(r),
    ]),
  );
}

/** An ack holds for the episode it was given in, until `until`. */
export function ackHolds(
  ack: AckRow | undefined,
  alert: { episode: number; status: string },
  now: number,
): boolean {
  return (
    ack !== undefined &&
    alert.status === 'firing' &&
    ack.episode === alert.episode &&
    (ack.until === null || ack.until > now)
  );
}
