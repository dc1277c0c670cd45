// What every part of the converter shares: config section, DB, clock, logger, metrics, and the signal
// helpers that write events and alerts inside the caller's transaction.
import { raiseAlert, resolveAlert, type Labels, type Severity } from '../../lib/alerts/index.js';
import type { Clock } from '../../lib/clock.js';
import type { Config } from '../../lib/config/index.js';
import type { Connection, Db } from '../../lib/db/index.js';
import { appendEvent } from '../../lib/events/index.js';
import type { Logger } from '../../lib/log.js';
import type { SqliteQueueStore } from '../../lib/queue/index.js';
import type { ConverterMetrics } from './metrics.js';

export type ConverterConfig = Config['streamingConverter'];

export const TOPIC = 'converter';

export interface Ctx {
  cfg: ConverterConfig;
  db: Db;
  clock: Clock;
  log: Logger;
  m: ConverterMetrics;
  /** The `conversions` queue (lib/queue) on the same state database. */
  queue: SqliteQueueStore;
}

/** Append `converter.<type>` to the events table (inside the caller's write transaction). */
export function emit(conn: Connection, type: string, payload: Record<string, unknown>, now: number): void {
  appendEvent(conn, { topic: TOPIC, type: `converter.${type}`, payload }, now);
}

export function alert(
  conn: Connection,
  alertname: string,
  severity: Severity,
  labels: Labels,
  summary: string,
  now: number,
): void {
  raiseAlert(
    conn,
    { alertname, severity, labels, annotations: { summary }, source: 'streaming-converter' },
    now,
  );
}

export function resolve(conn: Connection, alertname: string, labels: Labels, now: number): void {
  resolveAlert(conn, { alertname, labels }, now);
}
