// contimg prometheus-config: print the Prometheus configuration for this host's daemons (their ports, bind
// address and token from the contimg config), the way ops/prometheus/prometheus.yml is for the default install:
// alerts to the dispatcher and to the fallback Alertmanager (--fallback-alertmanager, or none).
import type { Command } from 'commander';
import { DAEMONS, type DaemonName } from '../../lib/daemon/types.js';
import { DEFAULT_FALLBACK_ALERTMANAGER, DEFAULT_PROMETHEUS_TOKEN_FILE } from '../../lib/ops/paths.js';
import { numberOption, requireConfig, UsageError } from '../util.js';

interface Opts {
  config?: string;
  tokenFile?: string;
  rules: string;
  targetHost?: string;
  scrapeIntervalS: number;
  /** host:port, or false with --no-fallback-alertmanager. */
  fallbackAlertmanager: string | false;
}

/** host:port (an IPv6 host in brackets) → its parts. */
function address(text: string, flag: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new UsageError(`${flag}: expected host:port, got "${text}"`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export function register(program: Command): void {
  program
    .command('prometheus-config')
    .description(
      'print a prometheus.yml that scrapes every daemon of this config and sends alerts to the dispatcher',
    )
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option(
      '--token-file <file>',
      `file Prometheus reads the daemons' bearer token from (default when the config sets a token or binds beyond loopback: ${DEFAULT_PROMETHEUS_TOKEN_FILE})`,
    )
    .option('--rules <glob>', 'rule files, relative to the written prometheus.yml', 'rules/*.yml')
    .option(
      '--target-host <host>',
      'address Prometheus scrapes (default: http.host; 127.0.0.1 for a wildcard bind)',
    )
    .option(
      '--scrape-interval-s <s>',
      'scrape and rule evaluation interval',
      numberOption('--scrape-interval-s', { integer: true, min: 1 }),
      15,
    )
    .option(
      '--fallback-alertmanager <host:port>',
      'the Alertmanager that e-mails the alerts about the dispatcher itself (ops/alertmanager/fallback.yml)',
      `${DEFAULT_FALLBACK_ALERTMANAGER.host}:${DEFAULT_FALLBACK_ALERTMANAGER.port}`,
    )
    .option('--no-fallback-alertmanager', 'alert the dispatcher only (no path around it)')
    .action(async (o: Opts) => {
      const { needsToken, prometheusConfig, renderPrometheusConfig, scrapeHost, targetsFromConfig } =
        await import('../../lib/ops/prometheus-config.js');
      const cfg = requireConfig(o.config);
      const host = o.targetHost ?? scrapeHost(cfg.http.host);
      const names = Object.keys(DAEMONS) as DaemonName[];
      const tokenFile = o.tokenFile ?? (needsToken(cfg.http) ? DEFAULT_PROMETHEUS_TOKEN_FILE : undefined);
      const out = prometheusConfig({
        targets: targetsFromConfig(cfg, names, host),
        ruleFiles: [o.rules],
        alertmanager: { host, port: cfg.alertDispatcher.port },
        fallbackAlertmanager:
          o.fallbackAlertmanager === false
            ? null
            : address(o.fallbackAlertmanager, '--fallback-alertmanager'),
        tokenFile,
        scrapeIntervalS: o.scrapeIntervalS,
        evaluationIntervalS: o.scrapeIntervalS,
      });
      process.stdout.write(renderPrometheusConfig(out));
    });
}
