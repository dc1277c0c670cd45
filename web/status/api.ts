// Talking to the daemon that served the page (and only to it: the daemons refuse a foreign Origin). The
// token, when the daemons require one, comes from the page's own URL (`/?token=…`) and is kept in memory
// only: sent as a bearer header on API calls, and as `?token=` where a browser cannot set headers (the
// WebSocket, images). The server's clock is learnt from each answer's serverTime.
import type { ActionResult } from './contract.js';

const pageToken = new URLSearchParams(location.search).get('token') ?? undefined;

/** `path` with the token as a query parameter (for <img> and WebSocket URLs). */
export function withToken(path: string): string {
  if (pageToken === undefined) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(pageToken)}`;
}

export function wsUrl(): string {
  return withToken(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`);
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function headers(json: boolean): Record<string, string> {
  const out: Record<string, string> = { accept: 'application/json' };
  if (json) out['content-type'] = 'application/json';
  if (pageToken !== undefined) out.authorization = `Bearer ${pageToken}`;
  return out;
}

async function parse<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) {
    const message = (body as { message?: unknown } | null)?.message;
    throw new ApiError(typeof message === 'string' ? message : `HTTP ${res.status}`, res.status);
  }
  return body as T;
}

/** The server clock minus this browser's, from the answer with the shortest round trip seen lately. */
export const serverClock = {
  offsetMs: 0,
  bestRttMs: Infinity,
  sampledAt: 0,
  sample(serverTime: number, sentAt: number, receivedAt: number): void {
    const rtt = receivedAt - sentAt;
    // An old best sample ages out after a minute, so a drifting clock is followed.
    if (rtt <= this.bestRttMs || receivedAt - this.sampledAt > 60_000) {
      this.offsetMs = serverTime - (sentAt + receivedAt) / 2;
      this.bestRttMs = rtt;
      this.sampledAt = receivedAt;
    }
  },
  now(): number {
    return Date.now() + this.offsetMs;
  },
};

export async function getJson<T>(path: string): Promise<T> {
  const sentAt = Date.now();
  const res = await fetch(path, { headers: headers(false), cache: 'no-store' });
  const body = await parse<T>(res);
  const serverTime = (body as { serverTime?: unknown } | null)?.serverTime;
  if (typeof serverTime === 'number') serverClock.sample(serverTime, sentAt, Date.now());
  return body;
}

export async function act(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<ActionResult> {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return parse<ActionResult>(res);
}
