// The shapes a daemon's HTTP server offers to the daemon's code: JSON routes and readiness checks. They live
// with the server (lib/daemon re-exports them in DaemonDeps), so lib/http depends on nothing above it.
import type { IncomingHttpHeaders } from 'node:http';

/** A JSON API handler: return a value to send as JSON (200), or throw a ContimgError for its status. */
export type RouteHandler = (req: RouteRequest) => unknown | Promise<unknown>;

/** What a JSON route sees. `params` holds the `:name` segments of the route pattern (e.g. /api/jobs/:id). */
export interface RouteRequest {
  method: string;
  url: URL;
  body: unknown;
  params: Record<string, string>;
  /** The request's headers (set by the server; absent when a test calls a handler directly). */
  headers?: IncomingHttpHeaders;
}

export interface RouteOptions {
  /**
   * Served without the token: only fixed GET paths that carry no data (the status page's script, style and
   * icon, which are the same for everyone and ship in the package). Everything else needs the token.
   */
  public?: boolean;
}

export interface HttpRoutes {
  /** Register a JSON route under the daemon's HTTP server, e.g. route('GET', '/api/groups', h). */
  route(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    pathname: string,
    handler: RouteHandler,
    opts?: RouteOptions,
  ): void;
}

export interface ReadinessCheck {
  (): { ok: boolean; detail?: string };
}
