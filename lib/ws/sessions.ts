// Reconnect tokens: a server-side map from a single-use token to the subscriptions and last seq of the
// connection it was issued to. Kept in memory: a daemon restart forgets them (the client then gets
// resumed:false and subscribes afresh). Pure apart from crypto; the clock is injected.
import crypto from 'node:crypto';
import type { Clock } from '../clock.js';

interface Session {
  subscriptions: string[];
  lastSeq: number;
  /** Set when the connection ends; a live connection's token does not expire. */
  expiresAt?: number;
  live?: { subscriptions: ReadonlySet<string>; lastSeq: () => number };
}

export class SessionStore {
  private readonly map = new Map<string, Session>();
  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  /** Issue a token for a new connection; `live` is read when the token is used or the connection ends. */
  issue(live: { subscriptions: ReadonlySet<string>; lastSeq: () => number }): string {
    const token = crypto.randomBytes(24).toString('base64url');
    this.map.set(token, { subscriptions: [], lastSeq: 0, live });
    return token;
  }

  /** The connection ended: freeze what it had and start the resume window. */
  ended(token: string): void {
    const s = this.map.get(token);
    if (!s?.live) return;
    s.subscriptions = [...s.live.subscriptions];
    s.lastSeq = s.live.lastSeq();
    s.live = undefined;
    s.expiresAt = this.clock.now() + this.ttlMs;
  }

  /** Use a token once. Unknown, already used or expired → undefined. */
  take(token: string): { subscriptions: string[]; lastSeq: number } | undefined {
    this.sweep();
    const s = this.map.get(token);
    if (!s) return undefined;
    this.map.delete(token);
    if (s.live) return { subscriptions: [...s.live.subscriptions], lastSeq: s.live.lastSeq() };
    return { subscriptions: s.subscriptions, lastSeq: s.lastSeq };
  }

  /** Forget expired entries (called on every take, and by the hub's ping tick). */
  sweep(): void {
    const now = this.clock.now();
    for (const [token, s] of this.map)
      if (s.expiresAt !== undefined && s.expiresAt <= now) this.map.delete(token);
  }

  get size(): number {
    return this.map.size;
  }
}
