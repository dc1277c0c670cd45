// The status page's files: index.html, style.css and icon.svg from web/status in the package, the browser
// module compiled by tsc into dist/web/status. Read once when the daemon starts into a fixed map from URL
// path to bytes; a request path is only ever a key into that map, never a file name, so no request can read
// outside those files. Every answer carries the security headers; the page gets the Content-Security-Policy.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawResponse } from '../http/index.js';

export interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

export interface PageAssets {
  /** The HTML page (served at `/`, behind the token like the API). */
  page: Asset | null;
  /** Script, style and icon by URL path (`/status/app.js`): code the package ships, no data. */
  files: ReadonlyMap<string, Asset>;
  /** Why the page is missing (not built), for the 503 answer and the log. */
  problem: string | null;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Headers on every status-page answer (assets and PNGs): no sniffing, no referrer, no cross-site reads. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
});

/** The folder holding web/status/index.html: walked up to from lib/status (tsx) or dist/lib/status (built). */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'web', 'status', 'index.html'))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

function asset(file: string): Asset {
  const body = fs.readFileSync(file);
  return {
    type: TYPES[path.extname(file)] ?? 'application/octet-stream',
    body,
    etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

/** Read the page's files; a missing build leaves `page` null with the reason (the daemon itself runs on). */
export function loadAssets(root = packageRoot()): PageAssets {
  const files = new Map<string, Asset>();
  if (root === null)
    return { page: null, files, problem: 'web/status is not in this installation of contimg-daemons' };
  const web = path.join(root, 'web', 'status');
  for (const name of ['style.css', 'icon.svg']) files.set(`/status/${name}`, asset(path.join(web, name)));
  const built = path.join(root, 'dist', 'web', 'status');
  let scripts: string[] = [];
  try {
    scripts = fs.readdirSync(built).filter((n) => /^[a-z][a-z0-9-]*\.js$/.test(n));
  } catch {
    /* not built: reported below */
  }
  if (!scripts.includes('app.js'))
    return { page: null, files, problem: `${built}/app.js is missing: run \`npm run build\`` };
  for (const name of scripts) files.set(`/status/${name}`, asset(path.join(built, name)));
  return { page: asset(path.join(web, 'index.html')), files, problem: null };
}

const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The page's policy: its own scripts and styles only (no inline code, no eval), images from here or data:
 * URLs, network only to this origin and its WebSocket, and it may not be framed. `host` is the request's Host
 * header; one that is not a plain host[:port] leaves connect-src at 'self'.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const ws = host !== undefined && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${ws}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** An asset as a response: revalidated on every load (a daemon upgrade changes them), with its ETag. */
export function assetResponse(a: Asset, extra: Record<string, string> = {}): RawResponse {
  return new RawResponse(
    200,
    {
      ...SECURITY_HEADERS,
      'content-type': a.type,
      'cache-control': 'no-cache',
      etag: a.etag,
      ...extra,
    },
    a.body,
  );
}
