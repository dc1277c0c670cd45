// The Prometheus configuration for the daemon set, built from the daemon table and a contimg config: one
// scrape job per daemon (job name = daemon name, so rules and dashboards select `job="streaming-converter"`),
// every target labelled system="contimg" (rules select `up{system="contimg"}`, so a daemon added to the
// table is covered without editing a rule), our rule files, and the alert dispatcher as the alertmanager
// (it implements Alertmanager's POST /api/v2/alerts). When the daemons enforce a bearer token, every job and
// the dispatcher's alertmanager entry read it from a credentials file. A second alertmanager entry, the
// fallback Alertmanager (ops/alertmanager/fallback.yml), gets every alert too and e-mails the ones about the
// dispatcher itself: the path around the dispatcher (docs/monitoring.md).
//
// One function for the committed ops/prometheus/prometheus.yml (the default install; a drift test keeps it
// equal to this output), `contimg prometheus-config` (an operator's own ports, bind address and token),
// `contimg dev --with-prometheus`, the round-trip tests and the scrape bench.
import YAML from 'yaml';
import { isLoopbackHost } from '../http/auth.js';
import { DAEMONS, type DaemonName } from '../daemon/types.js';
import { DEFAULT_FALLBACK_ALERTMANAGER } from './paths.js';

/** The label every contimg target carries; rules and dashboards select on it. */
export const SYSTEM_LABEL = { system: 'contimg' } as const;

export { DEFAULT_FALLBACK_ALERTMANAGER, DEFAULT_PROMETHEUS_TOKEN_FILE } from './paths.js';

export interface ScrapeTarget {
  name: DaemonName;
  host: string;
  port: number;
}

export interface PrometheusConfigOptions {
  /** The daemons to scrape, in order. */
  targets: readonly ScrapeTarget[];
  /** Rule file paths or globs, relative to the config file's folder or absolute. */
  ruleFiles: readonly string[];
  /** Send alerts to the alert dispatcher at this address (null: no alerting section). */
  alertmanager: { host: string; port: number } | null;
  /** Also send every alert to this Alertmanager (the fallback path around the dispatcher; no token). */
  fallbackAlertmanager?: { host: string; port: number } | null;
  /** The daemons require a bearer token: Prometheus reads it from this file. */
  tokenFile?: string;
  scrapeIntervalS?: number;
  evaluationIntervalS?: number;
  /** Per-scrape timeout; default min(10 s, the interval). */
  scrapeTimeoutS?: number;
}

export interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: Record<string, unknown>[];
  alerting?: { alertmanagers: Record<string, unknown>[] };
}

const seconds = (s: number): string => (Number.isInteger(s) ? `${s}s` : `${Math.round(s * 1000)}ms`);

/** The configuration as an object (YAML-ready). */
export function prometheusConfig(o: PrometheusConfigOptions): PrometheusConfig {
  const scrapeS = o.scrapeIntervalS ?? 15;
  const auth = o.tokenFile === undefined ? {} : { authorization: { credentials_file: o.tokenFile } };
  const cfg: PrometheusConfig = {
    global: {
      scrape_interval: seconds(scrapeS),
      scrape_timeout: seconds(o.scrapeTimeoutS ?? Math.min(10, scrapeS)),
      evaluation_interval: seconds(o.evaluationIntervalS ?? 15),
    },
    rule_files: [...o.ruleFiles],
    scrape_configs: o.targets.map((t) => ({
      job_name: t.name,
      ...auth,
      static_configs: [{ targets: [hostPort(t.host, t.port)], labels: { ...SYSTEM_LABEL } }],
    })),
  };
  const alertmanagers: Record<string, unknown>[] = [];
  if (o.alertmanager)
    alertmanagers.push({
      api_version: 'v2',
      ...auth,
      static_configs: [{ targets: [hostPort(o.alertmanager.host, o.alertmanager.port)] }],
    });
  if (o.fallbackAlertmanager)
    alertmanagers.push({
      api_version: 'v2',
      static_configs: [{ targets: [hostPort(o.fallbackAlertmanager.host, o.fallbackAlertmanager.port)] }],
    });
  if (alertmanagers.length) cfg.alerting = { alertmanagers };
  return cfg;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Where Prometheus on this host reaches a daemon bound to `bind`: a wildcard bind is scraped on loopback. */
export function scrapeHost(bind: string): string {
  return bind === '0.0.0.0' || bind === '::' || bind === '' ? '127.0.0.1' : bind;
}

/** The scrape targets for a loaded contimg config: every daemon of `names` at its configured port. */
export function targetsFromConfig(
  cfg: { http: { host: string } } & Record<string, unknown>,
  names: readonly DaemonName[] = Object.keys(DAEMONS) as DaemonName[],
  host = scrapeHost(cfg.http.host),
): ScrapeTarget[] {
  return names.map((name) => ({
    name,
    host,
    port: (cfg[DAEMONS[name].section] as { port: number }).port,
  }));
}

/** Whether the daemons of this config enforce a token (then Prometheus must present one). */
export function needsToken(http: { host: string; token?: string; tokenFile?: string }): boolean {
  return http.token !== undefined || http.tokenFile !== undefined || !isLoopbackHost(http.host);
}

const HEADER = `# Prometheus configuration for the contimg daemons. Generated by \`contimg prometheus-config\`
# (lib/ops/prometheus-config.ts); this file is its output for the default install (every daemon on
# 127.0.0.1 at its default port, no token). For other ports, a non-loopback bind or a token, generate yours:
#   contimg prometheus-config --config /etc/contimg/contimg.yaml > /etc/prometheus/prometheus.yml
# Rules: rules/*.yml next to this file (ops/prometheus/rules/ in the repository). Alerts go to the alert dispatcher,
# which implements Alertmanager's /api/v2/alerts, and to the fallback Alertmanager (127.0.0.1:9093,
# ops/alertmanager/fallback.yml), which e-mails only the alerts about the dispatcher itself.
# See docs/deploy.md and docs/monitoring.md.
`;

export function renderPrometheusConfig(cfg: PrometheusConfig): string {
  return HEADER + YAML.stringify(cfg, { lineWidth: 0 });
}

/** The committed ops/prometheus/prometheus.yml: all daemons on loopback at their default ports. */
export function defaultPrometheusConfig(): PrometheusConfig {
  const targets = (Object.keys(DAEMONS) as DaemonName[]).map((name) => ({
    name,
    host: '127.0.0.1',
    port: DAEMONS[name].port,
  }));
  return prometheusConfig({
    targets,
    ruleFiles: ['rules/*.yml'],
    alertmanager: { host: '127.0.0.1', port: DAEMONS['alert-dispatcher'].port },
    fallbackAlertmanager: DEFAULT_FALLBACK_ALERTMANAGER,
  });
}
