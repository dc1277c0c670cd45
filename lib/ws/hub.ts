// The WebSocket hub on a daemon's HTTP server: serves the events table by topic. Live events come from one
// EventTail (woken at once by this process's commits and by a watch on the -wal file for other processes',
// see lib/events/tail.ts); each is serialised and encoded once, and the same bytes go to every subscriber.
// Resume replays from the table synchronously (better-sqlite3 is synchronous, so no live batch can
// interleave), bounded by the tail's position: every event reaches a client exactly once, in seq order.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Clock } from '../clock.js';
import type { Db } from '../db/index.js';
import { EventTail, readEventsAfter, type EventRow } from '../events/index.js';
import { parseRequestUrl, type DaemonHttpServer } from '../http/index.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import { wsMetrics, type WsMetrics, type WsRefusal } from './metrics.js';
import {
  ALL_TOPICS,
  CLOSE,
  canReconnect,
  parseClientMsg,
  topicMatches,
  type CloseReason,
  type ServerMsg,
} from './protocol.js';
import { SessionStore } from './sessions.js';

export interface WsHubOptions {
  http: DaemonHttpServer;
  /** The state database: the events table lives there. */
  db: Db;
  log: Logger;
  registry: Registry;
  clock: Clock;
  pingMs: number;
  maxMissed: number;
  resumeTtlMs: number;
  /** Close a client whose unsent bytes exceed this (slow_consumer); default 4 MiB. */
  maxBufferedBytes?: number;
  /** Open connections allowed (http.wsMaxConnections); further upgrades get HTTP 503. Default 256. */
  maxConnections?: number;
  /** The tail's safety poll: the longest gap between looks at data_version; default 1000 ms. */
  tailPollMs?: number;
  /** Whether the tail watches the -wal file for other processes' commits; default true. */
  tailWatchWal?: boolean;
  path?: string;
}

interface Client {
  id: string;
  ws: WebSocket;
  subs: Set<string>;
  lastSeq: number;
  token: string;
  alive: boolean;
  missed: number;
  /** Whether the client has sent anything yet: resume is accepted only as the first message. */
  spoken: boolean;
  closeReason?: CloseReason;
}

const ENDPOINT = '/ws';
const REPLAY_PAGE = 500;

export class WsHub {
  private readonly opts: WsHubOptions;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly sessions: SessionStore;
  private readonly tail: EventTail;
  private readonly metrics: WsMetrics;
  private pingTimer: NodeJS.Timeout | undefined;
  private draining = false;
  /** Upgrades accepted but not yet connected: counted against maxConnections. */
  private upgrading = 0;

  constructor(opts: WsHubOptions) {
    this.opts = opts;
    this.metrics = wsMetrics(opts.registry, ENDPOINT);
    this.sessions = new SessionStore(opts.clock, opts.resumeTtlMs);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    this.tail = new EventTail({
      db: opts.db,
      pollMs: opts.tailPollMs,
      watchWal: opts.tailWatchWal,
      log: opts.log,
      onEvents: (events) => this.fanOut(events),
    });
  }

  start(): void {
    this.opts.http.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
    this.tail.start();
    this.pingTimer = setInterval(() => this.pingTick(), this.opts.pingMs);
  }

  get connections(): number {
    return this.clients.size;
  }

  /** The newest seq delivered to subscribers. */
  get lastSeq(): number {
    return this.tail.lastSeq;
  }

  /**
   * Refuse new upgrades, send every client disconnect{server_shutdown} and close 1001, and wait up to
   * graceMs for the closes to complete before terminating the rest.
   */
  async shutdown(graceMs = 2_000): Promise<void> {
    this.draining = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.tail.stop();
    const closed = [...this.clients].map(
      (c) => new Promise<void>((resolve) => c.ws.once('close', () => resolve())),
    );
    for (const c of this.clients) this.disconnect(c, 'server_shutdown', graceMs);
    const timer = setTimeout(() => this.clients.forEach((c) => c.ws.terminate()), graceMs);
    await Promise.all(closed);
    clearTimeout(timer);
    this.wss.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // node:http drops its error listener from upgraded sockets: a peer reset while we refuse or before ws
    // takes over would otherwise be an uncaught 'error' event and take the daemon down.
    socket.on('error', (e) => this.opts.log.debug({ err: e }, 'upgrade socket error'));
    const refuse = (code: number, text: string, reason: WsRefusal): void => {
      this.opts.http.count(ENDPOINT, code);
      this.metrics.refused.inc({ reason });
      socket.end(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    let url: URL;
    try {
      url = parseRequestUrl(req);
    } catch {
      // Thrown from an 'upgrade' listener this would be an uncaught exception: the whole daemon would exit.
      return refuse(400, 'Bad Request', 'bad_request');
    }
    if (url.pathname !== (this.opts.path ?? ENDPOINT)) return refuse(404, 'Not Found', 'not_found');
    if (this.opts.http.refuseUpgrade(req)) return refuse(403, 'Forbidden', 'forbidden');
    if (!this.opts.http.authorized(req, url)) return refuse(401, 'Unauthorized', 'unauthorized');
    if (this.draining) return refuse(503, 'Service Unavailable', 'draining');
    if (this.clients.size + this.upgrading >= (this.opts.maxConnections ?? 256))
      return refuse(503, 'Service Unavailable', 'capacity');
    this.upgrading++;
    let settled = false;
    const release = (): void => {
      if (!settled) this.upgrading--;
      settled = true;
    };
    // A handshake ws rejects (a bad Sec-WebSocket-Key) closes the socket without calling back.
    socket.once('close', release);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      release();
      this.opts.http.count(ENDPOINT, 101);
      this.onConnection(ws, url);
    });
  }

  private onConnection(ws: WebSocket, url: URL): void {
    const client: Client = {
      id: crypto.randomUUID(),
      ws,
      subs: new Set(),
      lastSeq: this.tail.lastSeq,
      token: '',
      alive: true,
      missed: 0,
      spoken: false,
    };
    client.token = this.sessions.issue({ subscriptions: client.subs, lastSeq: () => client.lastSeq });
    this.clients.add(client);
    this.metrics.connections.set({ endpoint: ENDPOINT }, this.clients.size);
    ws.on('pong', () => this.markAlive(client));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(client, data, isBinary));
    ws.on('error', (e) => this.opts.log.debug({ err: e, client: client.id }, 'websocket error'));
    ws.on('close', () => this.onClose(client));
    this.send(client, {
      type: 'connected',
      client_id: client.id,
      reconnect_token: client.token,
      heartbeat_interval_ms: this.opts.pingMs,
      last_seq: this.tail.lastSeq,
    });
    const token = url.searchParams.get('reconnect_token');
    if (token !== null) {
      const lastSeq = Number(url.searchParams.get('last_seq') ?? NaN);
      client.spoken = true;
      this.resume(client, token, Number.isInteger(lastSeq) && lastSeq >= 0 ? lastSeq : undefined);
    }
  }

  private onClose(client: Client): void {
    this.clients.delete(client);
    this.sessions.ended(client.token);
    this.metrics.connections.set({ endpoint: ENDPOINT }, this.clients.size);
    this.metrics.disconnects.inc({ reason: client.closeReason ?? 'client_disconnect' });
  }

  private markAlive(client: Client): void {
    client.alive = true;
    client.missed = 0;
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    this.markAlive(client);
    const first = !client.spoken;
    client.spoken = true;
    const msg = isBinary ? { error: 'binary frames are not accepted' } : parseClientMsg(rawText(data));
    if ('error' in msg) return this.send(client, { type: 'error', error: 'bad_message', message: msg.error });
    switch (msg.type) {
      case 'subscribe':
        return this.subscribe(client, msg.topic, msg.since_seq);
      case 'unsubscribe':
        client.subs.delete(msg.topic);
        return this.send(client, { type: 'unsubscribed', topic: msg.topic });
      case 'ping':
        return this.send(client, { type: 'pong' });
      case 'heartbeat_ack':
        return;
      case 'resume':
        if (!first) {
          return this.send(client, {
            type: 'error',
            error: 'resume_not_first',
            message: 'resume must be the first message on a connection',
          });
        }
        return this.resume(client, msg.reconnect_token, msg.last_seq);
    }
  }

  /** Restore a previous connection's subscriptions and replay what it missed, then send `resumed`. */
  private resume(client: Client, token: string, lastSeq: number | undefined): void {
    const session = token === client.token ? undefined : this.sessions.take(token);
    if (!session) {
      client.subs.clear();
      return this.send(client, {
        type: 'resumed',
        resumed: false,
        subscriptions: [],
        replayed: 0,
        last_seq: client.lastSeq,
      });
    }
    for (const t of session.subscriptions) client.subs.add(t);
    const upTo = this.tail.lastSeq;
    const topics = client.subs.has(ALL_TOPICS) ? undefined : [...client.subs];
    const { replayed, reached } = this.replay(client, topics, lastSeq ?? session.lastSeq, upTo);
    client.lastSeq = reached;
    this.send(client, {
      type: 'resumed',
      resumed: true,
      subscriptions: [...client.subs],
      replayed,
      last_seq: upTo,
    });
  }

  /**
   * Send the events after `after` up to `upTo` (the tail's position: later ones arrive live) whose topic is
   * in `topics` (undefined = all), in seq order. Synchronous, so no live batch interleaves. `reached` is the
   * position the client got to: upTo, or the last event sent when the replay made it a slow consumer.
   */
  private replay(
    client: Client,
    topics: string[] | undefined,
    after: number,
    upTo: number,
  ): { replayed: number; reached: number } {
    let from = Math.min(after, upTo);
    let replayed = 0;
    while (from < upTo && (topics === undefined || topics.length > 0)) {
      const page = this.opts.db.read((c) => readEventsAfter(c, from, { topics, limit: REPLAY_PAGE }));
      for (const ev of page) {
        if (ev.seq > upTo) return { replayed, reached: upTo };
        this.sendRaw(client, 'event', eventFrame(ev));
        // Closing (slow consumer): stop reading pages; this event was not sent.
        if (client.closeReason) return { replayed, reached: from };
        replayed++;
        from = ev.seq;
      }
      if (page.length < REPLAY_PAGE) break;
    }
    return { replayed, reached: upTo };
  }

  /** subscribe, optionally with since_seq: history of that topic first (only if no current subscription overlaps). */
  private subscribe(client: Client, topic: string, sinceSeq: number | undefined): void {
    if (sinceSeq === undefined) {
      client.subs.add(topic);
      return this.send(client, { type: 'subscribed', topic });
    }
    const overlaps = topic === ALL_TOPICS ? client.subs.size > 0 : topicMatches(client.subs, topic);
    if (overlaps) {
      return this.send(client, {
        type: 'error',
        error: 'since_seq_overlap',
        message: 'since_seq needs a topic not already covered by this connection (it would repeat events)',
      });
    }
    client.subs.add(topic);
    const { replayed } = this.replay(
      client,
      topic === ALL_TOPICS ? undefined : [topic],
      sinceSeq,
      this.tail.lastSeq,
    );
    this.send(client, { type: 'subscribed', topic, replayed });
  }

  private fanOut(events: EventRow[]): void {
    for (const ev of events) {
      // Serialised and UTF-8 encoded once: ws writes the same buffer to every socket (a string would be
      // measured and encoded again for each client).
      let frame: Buffer | undefined;
      let sent = 0;
      for (const client of this.clients) {
        // A closing client's position stays at the last event it was sent, so a resume without last_seq
        // replays what it never got (the event that found it slow, and everything after).
        if (client.closeReason) continue;
        if (topicMatches(client.subs, ev.topic)) {
          frame ??= Buffer.from(eventFrame(ev));
          if (this.sendRaw(client, 'event', frame, false)) sent++;
          if (client.closeReason) continue;
        }
        client.lastSeq = ev.seq;
      }
      if (sent > 0) this.metrics.messages.inc({ type: 'event' }, sent);
    }
  }

  private pingTick(): void {
    this.sessions.sweep();
    const heartbeat = JSON.stringify({ type: 'heartbeat', seq: this.tail.lastSeq });
    for (const client of this.clients) {
      if (client.closeReason) continue;
      if (!client.alive) client.missed++;
      if (client.missed >= this.opts.maxMissed) {
        this.disconnect(client, 'heartbeat_timeout');
        continue;
      }
      client.alive = false;
      try {
        client.ws.ping();
      } catch {
        continue; // the socket is closing; its close event cleans up
      }
      this.sendRaw(client, 'heartbeat', heartbeat);
    }
  }

  private send(client: Client, msg: ServerMsg): void {
    this.sendRaw(client, msg.type, JSON.stringify(msg));
  }

  /** Send one text frame; returns whether it was sent. `count`: add it to the messages counter here. */
  private sendRaw(client: Client, type: ServerMsg['type'], frame: string | Buffer, count = true): boolean {
    if (client.ws.readyState !== WebSocket.OPEN) return false;
    if (type !== 'disconnect' && client.ws.bufferedAmount > (this.opts.maxBufferedBytes ?? 4 * 1024 * 1024)) {
      this.disconnect(client, 'slow_consumer');
      return false;
    }
    client.ws.send(frame, { binary: false });
    if (count) this.metrics.messages.inc({ type });
    return true;
  }

  /** Always disconnect{…} then a real close; terminate if the peer does not complete the close in time. */
  private disconnect(client: Client, reason: CloseReason, graceMs = Math.min(1_000, this.opts.pingMs)): void {
    if (client.closeReason) return;
    client.closeReason = reason;
    const can = canReconnect(reason);
    this.sendRaw(
      client,
      'disconnect',
      JSON.stringify({
        type: 'disconnect',
        reason,
        can_reconnect: can,
        reconnect_token: can ? client.token : '',
      }),
    );
    client.ws.close(CLOSE[reason], reason);
    const timer = setTimeout(() => client.ws.terminate(), graceMs);
    client.ws.once('close', () => clearTimeout(timer));
  }
}

function eventFrame(ev: EventRow): string {
  return JSON.stringify({
    type: 'event',
    seq: ev.seq,
    topic: ev.topic,
    event: ev.type,
    payload: ev.payload,
    created_at: ev.createdAt,
  });
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
