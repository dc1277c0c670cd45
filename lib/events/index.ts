// The append-only `events` table: cross-daemon signals written in the same transaction as the state change
// they describe, read with keyset pagination, and tailed by the WebSocket hub. Seqs commit in order because
// every write is BEGIN IMMEDIATE (writers are serialised), so "deliver everything after the last seq seen"
// is exactly-once without gaps.
import { cachedStatement, type Connection, type Db } from '../db/index.js';
import type { Logger } from '../log.js';

export interface NewEvent {
  topic: string;
  type: string;
  payload?: unknown;
}

export interface EventRow {
  seq: number;
  topic: string;
  type: string;
  payload: unknown;
  createdAt: number;
}

interface RawRow {
  seq: number;
  topic: string;
  type: string;
  payload: string;
  created_at: number;
}

const stmt = cachedStatement;

const INSERT = 'INSERT INTO events (topic, type, payload, created_at) VALUES (?, ?, ?, ?)';
// CAST, not a bare `LIMIT ?`: SQLite plans with a bound LIMIT's value, so each new binding would re-prepare
// the statement (docs/database.md §7).
const AFTER_ALL =
  'SELECT seq, topic, type, payload, created_at FROM events WHERE seq > ? ORDER BY seq LIMIT CAST(? AS INTEGER)';
const AFTER_TOPICS =
  'SELECT seq, topic, type, payload, created_at FROM events WHERE seq > ? ' +
  'AND topic IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT CAST(? AS INTEGER)';
const MAX_SEQ = 'SELECT coalesce(max(seq), 0) AS seq FROM events';

/**
 * Append one event; returns its seq. Call it INSIDE the caller's db.write(), so the event commits (or rolls
 * back) with the state change it announces.
 */
export function appendEvent(conn: Connection, ev: NewEvent, nowMs: number): number {
  if (!ev.topic || !ev.type) throw new Error('appendEvent: topic and type are required');
  const payload = JSON.stringify(ev.payload ?? {});
  const info = stmt(conn, INSERT).run(ev.topic, ev.type, payload, Math.floor(nowMs));
  return Number(info.lastInsertRowid);
}

function toRow(r: RawRow): EventRow {
  return {
    seq: r.seq,
    topic: r.topic,
    type: r.type,
    payload: JSON.parse(r.payload),
    createdAt: r.created_at,
  };
}

/**
 * Events with seq > afterSeq in seq order, at most `limit` (keyset pagination: call again with the last seq
 * returned). `topics` restricts to exact topic names.
 */
export function readEventsAfter(
  conn: Connection,
  afterSeq: number,
  opts: { topics?: readonly string[]; limit: number },
): EventRow[] {
  const limit = Math.max(1, Math.floor(opts.limit));
  const rows = opts.topics
    ? (stmt(conn, AFTER_TOPICS).all(afterSeq, JSON.stringify(opts.topics), limit) as RawRow[])
    : (stmt(conn, AFTER_ALL).all(afterSeq, limit) as RawRow[]);
  return rows.map(toRow);
}

/** The highest seq committed so far (0 for an empty table). */
export function maxEventSeq(conn: Connection): number {
  return (stmt(conn, MAX_SEQ).get() as { seq: number }).seq;
}

export interface EventTailOptions {
  db: Db;
  /** Deliver events after this seq; default: the current max (only new events). */
  fromSeq?: number;
  /** How often to look at PRAGMA data_version (cheap); default 50 ms. */
  pollMs?: number;
  /** Page size for each read; default 500. */
  batch?: number;
  /** Called with each page of new events, in seq order, each event once. */
  onEvents: (events: EventRow[]) => void;
  log?: Logger;
}

/**
 * Tails the events table. Every pollMs it compares the connection's data_version (changes when another
 * connection commits) and total_changes() (changes when this connection commits); only when either moved
 * does it read, page by page, so an idle tail costs two tiny statements per tick.
 */
export class EventTail {
  private readonly opts: EventTailOptions;
  private seq: number;
  private marker = '';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: EventTailOptions) {
    this.opts = opts;
    this.seq = opts.fromSeq ?? opts.db.read((c) => maxEventSeq(c));
  }

  /** The last seq delivered to onEvents. */
  get lastSeq(): number {
    return this.seq;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = (): void => {
      try {
        this.poll();
      } catch (e) {
        // A locked or busy file must not kill the tail: log and try again next tick.
        this.opts.log?.warn({ err: e }, 'event tail poll failed; retrying');
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.opts.pollMs ?? 50);
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Read and deliver whatever is new now; returns the number of events delivered. */
  poll(): number {
    const conn = this.opts.db.reader;
    const dv = conn.pragma('data_version', { simple: true }) as number;
    const changes = (stmt(conn, 'SELECT total_changes() AS n').get() as { n: number }).n;
    const marker = `${dv}:${changes}`;
    if (marker === this.marker) return 0;
    const batch = this.opts.batch ?? 500;
    let delivered = 0;
    for (;;) {
      const events = this.opts.db.read((c) => readEventsAfter(c, this.seq, { limit: batch }));
      if (events.length === 0) break;
      this.seq = events[events.length - 1].seq;
      delivered += events.length;
      this.opts.onEvents(events);
      if (events.length < batch) break;
    }
    // Only now: a read that failed (busy, I/O) must be retried on the next tick even if nothing else commits.
    this.marker = marker;
    return delivered;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
