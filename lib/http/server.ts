// One HTTP server per daemon: /metrics (prom-client), /healthz (the event loop answers), /readyz (every
// readiness check passes), the daemon's JSON routes, and the WebSocket upgrade (lib/ws attaches to it).
// Errors thrown by routes become the lib/errors envelope with its status; unknown errors are a bare 500.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpRoutes, ReadinessCheck, RouteHandler, RouteOptions } from '../daemon/types.js';
import { httpStatusFor, toEnvelope, ContimgError, ValidationError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import { presentedToken, tokenMatches } from './auth.js';
import { checkHost, guardStateChange, guardUpgrade } from './guard.js';
import { isLoopbackHost } from './loopback.js';
import { httpMetrics, initRoute, readinessMetric, type HttpMetrics } from './metrics.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** When set, every request but GET /healthz needs `Authorization: Bearer <token>`. */
  token?: string;
  registry: Registry;
  log: Logger;
  /** Largest accepted JSON body; default 1 MiB. */
  maxBodyBytes?: number;
}

interface Route {
  method: Method;
  pattern: string;
  parts: string[];
  handler: RouteHandler;
  public: boolean;
}

/**
 * A route's answer that is not JSON (the status page's HTML, scripts, style and PNGs): sent as given, with
 * its own headers. A handler returns one instead of a value to serialise.
 */
export class RawResponse {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: Buffer | string,
  ) {}
}

export interface ReadyReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export class DaemonHttpServer implements HttpRoutes {
  readonly server: http.Server;
  private readonly opts: HttpServerOptions;
  private readonly routes: Route[] = [];
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly metrics: HttpMetrics;
  private readonly started = Date.now();
  /** The port actually bound (the configured one, or the free one picked for port 0). */
  private boundPort = 0;

  constructor(opts: HttpServerOptions) {
    this.opts = opts;
    this.metrics = httpMetrics(opts.registry);
    readinessMetric(opts.registry, () => this.readiness());
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // Idle keep-alive sockets must not hold up shutdown.
    this.server.keepAliveTimeout = 5_000;
  }

  route(method: Method, pattern: string, handler: RouteHandler, opts: RouteOptions = {}): void {
    if (!pattern.startsWith('/')) throw new Error(`route pattern must start with /: ${pattern}`);
    if (opts.public && (method !== 'GET' || pattern.includes(':')))
      throw new Error(`only fixed GET routes can be public: ${method} ${pattern}`);
    this.routes.push({
      method,
      pattern,
      parts: pattern.split('/').slice(1),
      handler,
      public: opts.public === true,
    });
    initRoute(this.metrics, pattern);
  }

  /** The registered JSON routes, e.g. "GET /api/groups/:id" (the JSON-shape test walks every GET route). */
  routeList(): string[] {
    return this.routes.map((r) => `${r.method} ${r.pattern}`);
  }

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  readiness(): ReadyReport {
    const checks: ReadyReport['checks'] = {};
    let ready = true;
    for (const [name, check] of this.checks) {
      let r: { ok: boolean; detail?: string };
      try {
        r = check();
      } catch (e) {
        r = { ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
      checks[name] = r.detail === undefined ? { ok: r.ok } : { ok: r.ok, detail: r.detail };
      ready &&= r.ok;
    }
    return { ready, checks };
  }

  /** Whether a request (HTTP or WS upgrade) carries the configured token. */
  authorized(req: IncomingMessage, url: URL): boolean {
    return tokenMatches(this.opts.token, presentedToken(req, url));
  }

  /** The browser-forgery guard for a WebSocket upgrade (lib/http/guard.ts); undefined when it may proceed. */
  refuseUpgrade(req: IncomingMessage): ContimgError | undefined {
    return guardUpgrade(req, this.guardContext());
  }

  private guardContext() {
    return { loopback: isLoopbackHost(this.opts.host), port: this.boundPort };
  }

  /** Count a request under a route label; lib/ws uses it for upgrades. */
  count(route: string, code: number, startedAt?: number): void {
    this.metrics.requests.inc({ route, code: String(code) });
    if (startedAt !== undefined)
      this.metrics.seconds.observe({ route }, (performance.now() - startedAt) / 1000);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this.boundPort;
  }

  /** Stop accepting connections and close idle keep-alive sockets; resolves when all are gone. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    // In-flight requests get a moment to finish; then the rest are cut.
    const timer = setTimeout(() => this.server.closeAllConnections(), 2_000);
    await done;
    clearTimeout(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    let label = 'unmatched';
    let status = 500;
    try {
      // Inside the try: a malformed request target (`GET http://[x/`) is the client's 400, never a crash.
      const url = parseRequestUrl(req);
      if (method === 'GET' && url.pathname === '/healthz') {
        label = '/healthz';
        status = this.send(res, 200, { ok: true, uptimeS: Math.round((Date.now() - this.started) / 1000) });
        return;
      }
      const foreignHost = checkHost(req, this.guardContext());
      if (foreignHost) throw foreignHost;
      const match = this.match(method, url.pathname);
      if (!match?.route.public && !this.authorized(req, url)) {
        status = this.send(res, 401, {
          error: 'UNAUTHORIZED',
          message: 'missing or invalid token',
          details: {},
        });
        return;
      }
      if (method === 'GET' && url.pathname === '/metrics') {
        label = '/metrics';
        const text = await this.opts.registry.metrics();
        res.writeHead(200, { 'content-type': this.opts.registry.contentType });
        res.end(text);
        status = 200;
        return;
      }
      if (method === 'GET' && url.pathname === '/readyz') {
        label = '/readyz';
        const report = this.readiness();
        status = this.send(res, report.ready ? 200 : 503, report);
        return;
      }
      if (!match) throw new NotFoundError(`no route ${method} ${url.pathname}`);
      label = match.route.pattern;
      const forged = guardStateChange(req, method);
      if (forged) throw forged;
      const body = method === 'POST' || method === 'PUT' ? await this.readJson(req) : undefined;
      const out = await match.route.handler({
        method,
        url,
        body,
        params: match.params,
        headers: req.headers,
      });
      if (out instanceof RawResponse) {
        res.writeHead(out.status, out.headers);
        res.end(out.body);
        status = out.status;
      } else status = out === undefined ? this.send(res, 204, undefined) : this.send(res, 200, out);
    } catch (e) {
      status = httpStatusFor(e);
      if (!(e instanceof ContimgError) || status >= 500)
        this.opts.log.error({ err: e, route: label }, 'request failed');
      if (!res.headersSent) this.send(res, status, toEnvelope(e));
      else res.destroy();
    } finally {
      this.count(label, status, t0);
    }
  }

  private match(
    method: string,
    pathname: string,
  ): { route: Route; params: Record<string, string> } | undefined {
    const parts = pathname.split('/').slice(1);
    for (const route of this.routes) {
      if (route.method !== method || route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const want = route.parts[i];
        if (want.startsWith(':')) params[want.slice(1)] = decodeSegment(parts[i]);
        else ok = want === parts[i];
      }
      if (ok) return { route, params };
    }
    return undefined;
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.opts.maxBodyBytes ?? 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new ValidationError(`request body over ${limit} bytes`);
      chunks.push(chunk);
    }
    if (size === 0) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new ValidationError('request body is not valid JSON');
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): number {
    if (body === undefined) {
      res.writeHead(status);
      res.end();
    } else {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(text);
    }
    return status;
  }
}

/** The request's URL; a target that does not parse is a ValidationError (400). */
export function parseRequestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new ValidationError('malformed request URL');
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError('malformed percent-encoding in the URL path');
  }
}
