// A real Alertmanager (Debian's prometheus-alertmanager) on a free loopback port for the ops tests: one of the
// shipped configs (ops/alertmanager/*.yml) with the changes a loopback test needs (its webhook and mail relay
// pointed at the test's peers, shorter group timings), its own storage folder, no cluster; ready when /-/ready
// answers. A missing binary fails with the package to install.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { requireExecutable } from '../../cli/prometheus.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { OPS } from './helpers.js';

export interface AlertmanagerConfig {
  global: Record<string, unknown>;
  route: Record<string, unknown> & { routes?: Record<string, unknown>[] };
  receivers: {
    name: string;
    webhook_configs?: Record<string, unknown>[];
    email_configs?: Record<string, unknown>[];
  }[];
  inhibit_rules?: unknown[];
}

/** A shipped config (ops/alertmanager/<file>) as data, to change for a test. */
export function shippedConfig(file: string): AlertmanagerConfig {
  return YAML.parse(fs.readFileSync(path.join(OPS, 'alertmanager', file), 'utf8')) as AlertmanagerConfig;
}

/** The shipped mail settings pointed at a plain SMTP server on loopback (no TLS, no login). */
export function relayTo(doc: AlertmanagerConfig, smtpPort: number): void {
  Object.assign(doc.global, {
    smtp_smarthost: `127.0.0.1:${smtpPort}`,
    smtp_require_tls: false,
  });
  delete doc.global.smtp_auth_username;
  delete doc.global.smtp_auth_password_file;
}

export interface AlertmanagerProcess {
  url: string;
  child: ChildProcess;
  /** POST /api/v2/alerts, as Prometheus does. */
  post(alerts: { labels: Record<string, string>; endsAt?: string }[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startAlertmanager(doc: AlertmanagerConfig, dir: string): Promise<AlertmanagerProcess> {
  const binary = requireExecutable('prometheus-alertmanager');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(file, YAML.stringify(doc));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${file}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`alertmanager exited ${child.exitCode}: ${log}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
      },
      { what: 'alertmanager ready', timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${log}`);
  }
  return {
    url,
    child,
    async post(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts.map((a) => ({ annotations: { summary: 'test' }, ...a }))),
      });
      if (res.status !== 200) throw new Error(`alertmanager POST /api/v2/alerts: HTTP ${res.status}`);
    },
    stop,
  };
}
