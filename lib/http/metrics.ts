// contimg_http_* series, declared up front and initialised for the built-in routes.
import { Counter, Gauge, Histogram, once, type Registry } from '../metrics.js';

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

/**
 * contimg_ready{check}: /readyz as a series, so Prometheus can alert on "up but not ready". Evaluated at
 * scrape time from the same checks (one series per check: 1 passing, 0 failing); check names are the fixed
 * set the platform and the daemon register, so the label is bounded.
 */
export function readinessMetric(
  registry: Registry,
  report: () => { checks: Record<string, { ok: boolean }> },
): Gauge<'check'> {
  return new Gauge({
    name: 'contimg_ready',
    help: 'Readiness as /readyz reports it, per check: 1 passing, 0 failing (evaluated at scrape time).',
    labelNames: ['check'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [check, r] of Object.entries(report().checks)) this.set({ check }, r.ok ? 1 : 0);
    },
  });
}
