// The shapes a daemon's HTTP server offers to the daemon's code: JSON routes and readiness checks. They live
// with the server (lib/daemon re-exports them in DaemonDeps), so lib/http depends on nothing above it.

/** A JSON API handler: return a value to send as JSON (200), or throw a ContimgError for its status. */
export type RouteHandler = (req: RouteRequest) => unknown | Promise<unknown>;

/** What a JSON route sees. `params` holds the `:name` segments of the route pattern (e.g. /api/jobs/:id). */
export interface RouteRequest {
  method: string;
  url: URL;
  body: unknown;
  params: Record<string, string>;
}

export interface HttpRoutes {
  /** Register a JSON route under the daemon's HTTP server, e.g. route('GET', '/api/groups', h). */
  route(method: 'GET' | 'POST' | 'PUT' | 'DELETE', pathname: string, handler: RouteHandler): void;
}

export interface ReadinessCheck {
  (): { ok: boolean; detail?: string };
}
