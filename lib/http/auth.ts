// Bearer-token checks for the daemon's HTTP server and WebSocket upgrade. Loopback binds need no token;
// any other bind address refuses to start without one. When a token is configured it is enforced on every
// request (except GET /healthz, which carries no data) wherever the server is bound.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../errors.js';
import { readSecret } from '../config/index.js';
import { isLoopbackHost } from './loopback.js';

export { isLoopbackHost };

/**
 * The token this server enforces, or undefined on a loopback bind without one. A non-loopback bind without
 * a token is a ConfigError (exit 78): exposing the API unauthenticated is never the default. The schema
 * rejects that case first (so `contimg check-config` agrees); only an empty token file is found here.
 */
export function resolveHttpToken(http: {
  host: string;
  token?: string;
  tokenFile?: string;
}): string | undefined {
  const token = readSecret(http as Record<string, unknown>, 'token', 'http');
  if (token !== undefined && token.length === 0) {
    throw new ConfigError('http.tokenFile: the token file is empty', ['http.tokenFile: empty token']);
  }
  if (!token && !isLoopbackHost(http.host)) {
    throw new ConfigError(
      `http.host: ${http.host} is not a loopback address, so http.token or http.tokenFile is required`,
      ['http.token: required when http.host is not loopback'],
    );
  }
  return token;
}

/** The token presented by a request: `Authorization: Bearer …`, or `?token=` (browsers cannot set headers on WS). */
export function presentedToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  return url.searchParams.get('token') ?? undefined;
}

/** Constant-time comparison (hash first so lengths never leak). */
export function tokenMatches(expected: string | undefined, presented: string | undefined): boolean {
  if (expected === undefined) return true;
  if (presented === undefined) return false;
  const a = crypto.createHash('sha256').update(expected).digest();
  const b = crypto.createHash('sha256').update(presented).digest();
  return crypto.timingSafeEqual(a, b);
}
