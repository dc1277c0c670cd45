// Paths of the default install that light modules (the CLI's command definitions, loaded for `contimg
// --help`) name without loading YAML or the config schema.

/** Where the default install puts the token Prometheus presents (root:prometheus, mode 0640). */
export const DEFAULT_PROMETHEUS_TOKEN_FILE = '/etc/prometheus/contimg-http-token';

/** The fallback Alertmanager (ops/alertmanager/fallback.yml): the path around the dispatcher. */
export const DEFAULT_FALLBACK_ALERTMANAGER = { host: '127.0.0.1', port: 9093 } as const;
