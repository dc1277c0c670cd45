// The WebSocket message protocol of every daemon's /ws endpoint, in one place (documented in
// docs/architecture.md). All messages are JSON objects with a `type`. Field names are snake_case on the wire,
// as in the original protocol.

/** Why the server closed a connection, and the close code that goes with it. */
export const CLOSE = Object.freeze({
  normal: 1000,
  server_shutdown: 1001,
  error: 1011,
  heartbeat_timeout: 4000,
  slow_consumer: 4002,
});
export type CloseReason = keyof typeof CLOSE;
/** Disconnect reasons counted in contimg_ws_disconnects_total; client_disconnect = the client closed first. */
export const DISCONNECT_REASONS = [...(Object.keys(CLOSE) as CloseReason[]), 'client_disconnect'] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** The topic that matches every event. Any other topic matches itself exactly (e.g. `job:42`, `alerts`). */
export const ALL_TOPICS = '*';

// ---- server → client -------------------------------------------------------------------------------

export interface ConnectedMsg {
  type: 'connected';
  client_id: string;
  /** Single use; present it on a new connection within resumeTtlMs after this one ends to resume. */
  reconnect_token: string;
  heartbeat_interval_ms: number;
  /** The newest event seq at the server when the connection opened. */
  last_seq: number;
}
export interface EventMsg {
  type: 'event';
  seq: number;
  topic: string;
  /** The event's own type (the events table's `type` column). */
  event: string;
  payload: unknown;
  created_at: number;
}
export interface HeartbeatMsg {
  type: 'heartbeat';
  /** The newest event seq the server has delivered; a client that has seen it is up to date. */
  seq: number;
}
export interface PongMsg {
  type: 'pong';
}
export interface SubscribedMsg {
  type: 'subscribed' | 'unsubscribed';
  topic: string;
  /** With subscribe{since_seq}: how many past events were sent before this message. */
  replayed?: number;
}
export interface ResumedMsg {
  type: 'resumed';
  resumed: boolean;
  subscriptions: string[];
  /** Events replayed before this message (0 when resumed is false). */
  replayed: number;
  last_seq: number;
}
export interface ErrorMsg {
  type: 'error';
  error: string;
  message: string;
}
export interface DisconnectMsg {
  type: 'disconnect';
  reason: CloseReason;
  can_reconnect: boolean;
  reconnect_token: string;
}
export type ServerMsg =
  ConnectedMsg | EventMsg | HeartbeatMsg | PongMsg | SubscribedMsg | ResumedMsg | ErrorMsg | DisconnectMsg;
export const SERVER_MSG_TYPES = [
  'connected',
  'event',
  'heartbeat',
  'pong',
  'subscribed',
  'unsubscribed',
  'resumed',
  'error',
  'disconnect',
] as const satisfies readonly ServerMsg['type'][];

// ---- client → server -------------------------------------------------------------------------------

export type ClientMsg =
  /** since_seq: first send this topic's events after that seq (e.g. after a daemon restart lost the token). */
  | { type: 'subscribe'; topic: string; since_seq?: number }
  | { type: 'unsubscribe'; topic: string }
  /** Only as the first message of a connection (or use ?reconnect_token=&last_seq= on the URL). */
  | { type: 'resume'; reconnect_token: string; last_seq?: number }
  | { type: 'ping' }
  | { type: 'heartbeat_ack'; seq?: number };

const TOPIC = /^[\w.:*/-]{1,200}$/;

/** Parse and validate one client frame; returns an error string for anything malformed. */
export function parseClientMsg(text: string): ClientMsg | { error: string } {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return { error: 'message is not JSON' };
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return { error: 'message must be a JSON object' };
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'subscribe':
    case 'unsubscribe':
      if (typeof o.topic !== 'string' || !TOPIC.test(o.topic))
        return { error: 'topic must be a short string' };
      if (o.type === 'unsubscribe') return { type: 'unsubscribe', topic: o.topic };
      if (o.since_seq !== undefined && !isSeq(o.since_seq))
        return { error: 'since_seq must be an integer >= 0' };
      return { type: 'subscribe', topic: o.topic, since_seq: o.since_seq as number | undefined };
    case 'resume':
      if (typeof o.reconnect_token !== 'string') return { error: 'reconnect_token must be a string' };
      if (o.last_seq !== undefined && !isSeq(o.last_seq))
        return { error: 'last_seq must be an integer >= 0' };
      return {
        type: 'resume',
        reconnect_token: o.reconnect_token,
        last_seq: o.last_seq as number | undefined,
      };
    case 'ping':
      return { type: 'ping' };
    case 'heartbeat_ack':
      return { type: 'heartbeat_ack', seq: isSeq(o.seq) ? o.seq : undefined };
    default:
      return { error: `unknown message type ${JSON.stringify(o.type)}` };
  }
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

export function canReconnect(reason: CloseReason): boolean {
  return reason !== 'error';
}

export function topicMatches(subscriptions: ReadonlySet<string>, topic: string): boolean {
  return subscriptions.has(topic) || subscriptions.has(ALL_TOPICS);
}
