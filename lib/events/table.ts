// The append-only `events` table: cross-daemon signals written in the same transaction as the state change
// they describe, read with keyset pagination, and tailed by the WebSocket hub (tail.ts). Seqs commit in order
// because every write is BEGIN IMMEDIATE (writers are serialised), so "deliver everything after the last seq
// seen" is exactly-once without gaps.
import { cachedStatement, type Connection } from '../db/index.js';
import { noteAppended } from './wake.js';

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
  const seq = Number(info.lastInsertRowid);
  // This process's tails on the file wake once the caller's transaction has committed (never on rollback).
  noteAppended(conn, seq);
  return seq;
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
