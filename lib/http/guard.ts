// Browser-forgery guards, applied once for every route and the WebSocket upgrade. A page in a browser on the
// operator's host can send requests to a token-less loopback daemon: simple cross-site POSTs (form or
// text/plain bodies, no preflight), and, through DNS rebinding (evil.example resolving to 127.0.0.1), even
// same-origin reads. So: on a loopback bind the Host header must name a loopback host and our port (a
// rebinding page sends its own name); a request or upgrade carrying an Origin must come from the origin it
// is addressed to; and a state-changing request with a body must say Content-Type: application/json (which
// a browser cannot send cross-site without a CORS preflight, which we never answer).
import type { IncomingMessage } from 'node:http';
import { ContimgError } from '../errors.js';
import { isLoopbackHost } from './loopback.js';

export interface GuardContext {
  /** Whether the server is bound to a loopback address (then the Host header is checked). */
  loopback: boolean;
  /** The port the server listens on. */
  port: number;
}

export const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function forbidden(message: string): ContimgError {
  return new ContimgError(message, { code: 'FORBIDDEN', httpStatus: 403 });
}

/** Split a Host header value into host and port ("[::1]:9310", "localhost:9310", "127.0.0.1"). */
export function parseHostHeader(value: string): { host: string; port: number | null } | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m) return null;
  return { host: m[1].toLowerCase(), port: m[2] === undefined ? null : Number(m[2]) };
}

/** On a loopback bind: a Host header that is not a loopback name with our port is a rebinding page (403). */
export function checkHost(req: IncomingMessage, g: GuardContext): ContimgError | undefined {
  if (!g.loopback) return undefined;
  const value = req.headers.host;
  if (value === undefined) return undefined; // HTTP/1.0 tools; browsers always send Host
  const h = parseHostHeader(value);
  if (h && isLoopbackHost(h.host) && (h.port ?? 80) === g.port) return undefined;
  return forbidden('Host header does not name this loopback server');
}

/** An Origin header (browsers send one on every POST and WebSocket) must be the origin addressed (403). */
export function checkOrigin(req: IncomingMessage): ContimgError | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined; // not a browser, or a same-origin GET
  let o: URL | undefined;
  try {
    o = new URL(origin);
  } catch {
    o = undefined;
  }
  const host = req.headers.host?.toLowerCase();
  if (o && (o.protocol === 'http:' || o.protocol === 'https:') && host !== undefined && o.host === host)
    return undefined;
  return forbidden('cross-origin request refused');
}

/** A state-changing request with a body must be JSON, which no cross-site form or simple request can be (415). */
export function checkContentType(req: IncomingMessage): ContimgError | undefined {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return undefined;
  return new ContimgError('request body must be Content-Type: application/json', {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    httpStatus: 415,
  });
}

/** The checks for a state-changing request (after checkHost): same Origin, JSON body. */
export function guardStateChange(req: IncomingMessage, method: string): ContimgError | undefined {
  if (!STATE_CHANGING.has(method)) return undefined;
  return checkOrigin(req) ?? checkContentType(req);
}

/** The checks for a WebSocket upgrade: Host (loopback binds) and Origin (a page must not read our events). */
export function guardUpgrade(req: IncomingMessage, g: GuardContext): ContimgError | undefined {
  return checkHost(req, g) ?? checkOrigin(req);
}
