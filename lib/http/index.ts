export {
  DaemonHttpServer,
  RawResponse,
  parseRequestUrl,
  type HttpServerOptions,
  type Method,
  type ReadyReport,
} from './server.js';
export { isLoopbackHost, resolveHttpToken, presentedToken, tokenMatches } from './auth.js';
export { httpMetrics, type HttpMetrics } from './metrics.js';
export {
  checkContentType,
  checkHost,
  checkOrigin,
  guardStateChange,
  guardUpgrade,
  parseHostHeader,
  type GuardContext,
} from './guard.js';
export { reachableHost } from './reach.js';
