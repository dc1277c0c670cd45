// The page's WebSocket to the daemon that served it: every event topic (`*`) from the seq of the snapshot on,
// in seq order, exactly once. When the connection drops (the daemon restarts, the network blips) the page says
// so and reconnects with backoff; the new connection first presents the previous connection's reconnect
// token with the last seq processed (a daemon that kept running replays what was missed), and when the daemon
// no longer knows the token (it restarted) subscribes with since_seq = that seq, which replays from the events
// table. Either way no event is missed or applied twice. A hole in the seqs (events pruned while the page was
// away) asks the page to reload its snapshot.
import { wsUrl } from './api.js';

export interface LiveEvent {
  seq: number;
  topic: string;
  event: string;
  payload: Record<string, unknown>;
  created_at: number;
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

export interface LiveHandlers {
  onEvent(e: LiveEvent): void;
  onState(s: LiveState, detail: string): void;
  /** Events were lost (a gap in the seqs): reload the snapshot, then call restart(seq). */
  onGap(): void;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 3000];

export class LiveFeed {
  private ws: WebSocket | null = null;
  private lastSeq: number;
  /** The reconnect token of the current (or last) connection. */
  private resumeToken: string | null = null;
  private failures = 0;
  private timer: number | undefined;
  private stopped = false;
  private gap = false;
  /** Subscribed on the current connection (heartbeats before that say nothing about this page). */
  private subscribed = false;

  constructor(
    fromSeq: number,
    private readonly h: LiveHandlers,
  ) {
    this.lastSeq = fromSeq;
  }

  get seq(): number {
    return this.lastSeq;
  }

  start(): void {
    this.h.onState('connecting', 'connecting');
    this.open();
  }

  /** After a snapshot reload: continue from its seq on a fresh subscription. */
  restart(fromSeq: number): void {
    this.lastSeq = fromSeq;
    this.gap = false;
    this.resumeToken = null;
    this.ws?.close(1000, 'snapshot reloaded');
  }

  private open(): void {
    const ws = new WebSocket(wsUrl());
    this.ws = ws;
    this.subscribed = false;
    ws.onmessage = (m) => this.onMessage(ws, typeof m.data === 'string' ? m.data : '');
    ws.onclose = () => this.onClose(ws);
    // An error is always followed by close; the state shown is the close's.
    ws.onerror = () => undefined;
  }

  private send(ws: WebSocket, msg: object): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  private subscribe(ws: WebSocket): void {
    this.send(ws, { type: 'subscribe', topic: '*', since_seq: this.lastSeq });
  }

  private onMessage(ws: WebSocket, text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (m.type) {
      case 'connected': {
        const previous = this.resumeToken;
        this.resumeToken = typeof m.reconnect_token === 'string' ? m.reconnect_token : null;
        if (previous) this.send(ws, { type: 'resume', reconnect_token: previous, last_seq: this.lastSeq });
        else this.subscribe(ws);
        return;
      }
      case 'resumed':
        if (m.resumed === true) return this.live('resumed');
        // The daemon restarted and forgot the token: replay from the table instead.
        return this.subscribe(ws);
      case 'subscribed':
        return this.live(this.failures || this.gap ? 'caught up' : 'live');
      case 'event':
        return this.onEvent(m as unknown as LiveEvent);
      case 'heartbeat':
        // Everything up to the heartbeat's seq was sent before it: a larger seq is a hole.
        if (this.subscribed && typeof m.seq === 'number' && m.seq > this.lastSeq) this.hole();
        return;
      default:
        return;
    }
  }

  private onEvent(e: LiveEvent): void {
    if (e.seq <= this.lastSeq) return;
    if (e.seq !== this.lastSeq + 1) return this.hole();
    this.lastSeq = e.seq;
    this.h.onEvent(e);
  }

  private hole(): void {
    if (this.gap) return;
    this.gap = true;
    this.h.onGap();
  }

  private live(detail: string): void {
    this.subscribed = true;
    this.failures = 0;
    this.h.onState('live', detail);
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws || this.stopped) return;
    this.ws = null;
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures++;
    this.h.onState('reconnecting', `reconnecting (attempt ${this.failures})`);
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.open(), delay);
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.ws?.close(1000, 'page closed');
  }
}
