// ops/alertmanager/alertmanager.yml: amtool check-config is clean, and a real Alertmanager (Debian's
// prometheus-alertmanager) running it forwards one v4 webhook per group to the dispatcher's intake path
// (here a loopback receiver standing in for the dispatcher), with the bearer token when one is configured,
// and applies the inhibition rules. The test copy only changes the webhook's address and the group timings.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireExecutable } from '../../cli/prometheus.js';
import { freePort } from '../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { OPS, runTool } from './helpers.js';
import { startReceiver, type Receiver } from './receiver.js';

const CONFIG = path.join(OPS, 'alertmanager', 'alertmanager.yml');
const INTAKE = '/api/alertmanager/webhook';
const TOKEN = 'alertmanager-token-abcdef0123456789';

interface Webhook {
  version: string;
  status: string;
  receiver: string;
  groupLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string>; endsAt: string }[];
}

let dir: string;
let receiver: Receiver;
let am: ChildProcess | undefined;
let amUrl: string;

beforeAll(async () => {
  dir = makeTmpDir('contimg-am-');
  receiver = await startReceiver();
  const doc = YAML.parse(fs.readFileSync(CONFIG, 'utf8')) as {
    route: Record<string, unknown>;
    receivers: { webhook_configs: Record<string, unknown>[] }[];
  };
  const hook = doc.receivers[0].webhook_configs[0];
  const url = new URL(hook.url as string);
  expect(url.pathname).toBe(INTAKE);
  expect(url.host).toBe('127.0.0.1:9313');
  url.port = String(receiver.port);
  hook.url = url.href;
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  hook.http_config = { authorization: { credentials_file: tokenFile } };
  Object.assign(doc.route, { group_wait: '1s', group_interval: '1s' });
  const file = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(file, YAML.stringify(doc));
  const port = await freePort();
  amUrl = `http://127.0.0.1:${port}`;
  am = spawn(
    requireExecutable('prometheus-alertmanager'),
    [
      `--config.file=${file}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  am.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  await waitFor(async () => (await fetch(`${amUrl}/-/ready`).catch(() => undefined))?.ok, {
    what: `alertmanager ready (${log})`,
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}, 60_000);

afterAll(async () => {
  if (am && am.exitCode === null) {
    am.kill('SIGTERM');
    await new Promise((r) => am!.once('exit', r));
  }
  await receiver?.close();
  if (dir) removeTmpDir(dir);
});

async function post(alerts: { labels: Record<string, string> }[]): Promise<void> {
  const res = await fetch(`${amUrl}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts.map((a) => ({ ...a, annotations: { summary: 'test' } }))),
  });
  expect(res.status).toBe(200);
}

function webhooks(alertname: string): Webhook[] {
  return receiver.requests
    .filter((r) => r.path === INTAKE)
    .map((r) => r.body as Webhook)
    .filter((w) => w.groupLabels.alertname === alertname);
}

describe('Alertmanager in front of the dispatcher', () => {
  it('amtool check-config is clean on the shipped config', async () => {
    const r = await runTool('amtool', ['check-config', CONFIG]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('amtool check-config rejects a broken one (the check can fail)', async () => {
    const bad = path.join(dir, 'bad.yml');
    fs.writeFileSync(
      bad,
      fs.readFileSync(CONFIG, 'utf8').replace('receiver: contimg-alert-dispatcher', 'receiver: nobody'),
    );
    const r = await runTool('amtool', ['check-config', bad]);
    expect(r.code).not.toBe(0);
  });

  it('forwards one v4 webhook per group, with the token, to the intake path', async () => {
    const labels = (instance: string) => ({
      alertname: 'ContimgDaemonDown',
      job: 'pointing-monitor',
      instance,
      severity: 'critical',
      system: 'contimg',
    });
    await post([{ labels: labels('127.0.0.1:9311') }, { labels: labels('127.0.0.2:9311') }]);
    const [hook] = await waitFor(
      () => webhooks('ContimgDaemonDown').length > 0 && webhooks('ContimgDaemonDown'),
      {
        what: 'the webhook',
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    expect(hook.version).toBe('4');
    expect(hook.status).toBe('firing');
    expect(hook.receiver).toBe('contimg-alert-dispatcher');
    expect(hook.groupLabels).toEqual({ alertname: 'ContimgDaemonDown', job: 'pointing-monitor' });
    expect(hook.alerts.map((a) => a.labels.instance).sort()).toEqual(['127.0.0.1:9311', '127.0.0.2:9311']);
    const request = receiver.requests.find((r) => r.path === INTAKE)!;
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.headers['user-agent']).toMatch(/^Alertmanager\//);
    // Both alerts went out in that one notification.
    expect(webhooks('ContimgDaemonDown')).toHaveLength(1);
  });

  it('inhibits the backlog alert while dispatch is paused for disk on the same converter', async () => {
    const base = { job: 'streaming-converter', instance: '127.0.0.1:9310', system: 'contimg' };
    await post([
      {
        labels: {
          ...base,
          alertname: 'ContimgConverterDispatchPaused',
          reason: 'disk',
          severity: 'critical',
        },
      },
      { labels: { ...base, alertname: 'ContimgConverterBacklog', severity: 'warning' } },
      // The same backlog on another host is not explained by this pause.
      {
        labels: {
          ...base,
          instance: '127.0.0.2:9310',
          alertname: 'ContimgConverterBacklog',
          severity: 'warning',
        },
      },
    ]);
    await waitFor(() => webhooks('ContimgConverterDispatchPaused').length > 0, {
      what: 'the pause notification',
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const backlog = await waitFor(
      () => webhooks('ContimgConverterBacklog').length > 0 && webhooks('ContimgConverterBacklog'),
      {
        what: 'the other host backlog notification',
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    const instances = backlog.flatMap((w) => w.alerts.map((a) => a.labels.instance));
    expect(instances).toEqual(['127.0.0.2:9310']);
    // Seconds later (several group intervals), the first group has still been notified once.
    expect(webhooks('ContimgDaemonDown')).toHaveLength(1);
  });
});
