export {
  DaemonHttpServer,
  parseRequestUrl,
  type HttpServerOptions,
  type Method,
  type ReadyReport,
} from './server.js';
export { isLoopbackHost, resolveHttpToken, presentedToken, tokenMatches } from './auth.js';
export { httpMetrics, type HttpMetrics } from './metrics.js';
export { reachableHost } from './reach.js';
