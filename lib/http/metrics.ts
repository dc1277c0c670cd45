// contimg_http_* series, declared up front and initialised for the built-in routes.
import { Counter, Histogram, once, type Registry } from '../metrics.js';

export interface HttpMetrics {
  requests: Counter<'route' | 'code'>;
  seconds: Histogram<'route'>;
}

export const BUILTIN_ROUTES = ['/metrics', '/healthz', '/readyz', '/ws', 'unmatched'] as const;

export function httpMetrics(registry: Registry): HttpMetrics {
  const m = once(registry, 'contimg_http_requests_total', () => ({
    requests: new Counter({
      name: 'contimg_http_requests_total',
      help: 'HTTP requests by route pattern (unmatched for anything else) and status code.',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
    seconds: new Histogram({
      name: 'contimg_http_request_seconds',
      help: 'HTTP request duration by route pattern.',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
  }));
  for (const route of BUILTIN_ROUTES) initRoute(m, route);
  return m;
}

export function initRoute(m: HttpMetrics, route: string): void {
  m.requests.inc({ route, code: '200' }, 0);
  m.seconds.zero({ route });
}
