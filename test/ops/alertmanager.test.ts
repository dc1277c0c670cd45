// ops/alertmanager/: `amtool check-config` is clean on both shipped configs, and a real Alertmanager (Debian's
// prometheus-alertmanager) running alertmanager.yml forwards each group as one v4 webhook, with the bearer
// token, to the REAL alert dispatcher's intake (POST /api/alertmanager/webhook), which delivers one e-mail
// per group to a real SMTP server; Alertmanager applies its inhibitions; the alerts about the dispatcher
// itself also go out by e-mail from Alertmanager directly. The test copy changes only the webhook's port and
// token file, the mail relay (loopback, no TLS) and the group timings.
import fs from 'node:fs';
import path from 'node:path';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { SmtpPeer } from '../integration/alert-dispatcher/peers.js';
import {
  relayTo,
  shippedConfig,
  startAlertmanager,
  type AlertmanagerProcess,
} from './alertmanager-process.js';
import { OPS, runTool } from './helpers.js';
import { Stack } from './stack.js';

const CONFIG = path.join(OPS, 'alertmanager', 'alertmanager.yml');
const FALLBACK = path.join(OPS, 'alertmanager', 'fallback.yml');
const INTAKE = '/api/alertmanager/webhook';
const TOKEN = 'alertmanager-token-abcdef0123456789';
const OPERATOR = 'operator@localhost';
const ALERTING_PATH = 'alerting-path@localhost';

const smtp = new SmtpPeer();
let stack: Stack;
let am: AlertmanagerProcess | undefined;

beforeAll(async () => {
  await smtp.start();
  stack = await Stack.create({ names: ['alert-dispatcher'], token: TOKEN, mailPort: smtp.port });
  await stack.start();
  const doc = shippedConfig('alertmanager.yml');
  const hook = doc.receivers.find((r) => r.name === 'contimg-alert-dispatcher')!.webhook_configs![0];
  const url = new URL(hook.url as string);
  expect(url.pathname).toBe(INTAKE);
  expect(url.host).toBe('127.0.0.1:9313');
  url.port = String(stack.ports['alert-dispatcher']);
  hook.url = url.href;
  // The shipped config always presents the token Prometheus has (deploy.md, step 6): here, the test's.
  const auth = (hook.http_config as { authorization: { credentials_file: string } }).authorization;
  expect(auth.credentials_file).toBe('/etc/prometheus/contimg-http-token');
  auth.credentials_file = path.join(stack.dir, 'http-token');
  relayTo(doc, smtp.port);
  doc.receivers.find((r) => r.name === 'alerting-path-email')!.email_configs![0].to = ALERTING_PATH;
  Object.assign(doc.route, { group_wait: '1s', group_interval: '1s' });
  am = await startAlertmanager(doc, path.join(stack.dir, 'alertmanager'));
}, 90_000);

afterAll(async () => {
  await am?.stop();
  await stack?.stop();
  await smtp.stop();
});

const recipients = (m: ParsedMail): string =>
  (Array.isArray(m.to) ? m.to : [m.to]).map((a) => a?.text ?? '').join(', ');

function mails(to: string, subject: string): ParsedMail[] {
  return smtp.messages.filter((m) => recipients(m).includes(to) && (m.subject ?? '').includes(subject));
}

function waitForMail(what: string, to: string, subject: string): Promise<ParsedMail> {
  return waitFor(() => mails(to, subject)[0], {
    what: `${what} (e-mails so far: ${smtp.messages.map((m) => `${recipients(m)}: ${m.subject}`).join(' | ')})`,
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}

/** Webhooks the dispatcher accepted (its own count), and the alerts it holds from Alertmanager. */
async function intakeCount(): Promise<number> {
  const text = await stack.scrape('alert-dispatcher');
  return Number(
    /contimg_alerts_intake_requests_total\{endpoint="alertmanager",code="200"\} (\d+)/.exec(text)?.[1] ?? 0,
  );
}

async function dispatcherAlerts(
  alertname: string,
): Promise<{ labels: Record<string, string>; source: string }[]> {
  const res = await fetch(stack.url('alert-dispatcher', '/api/alerts?status=firing'), {
    headers: stack.headers,
  });
  const list = (await res.json()) as { alertname: string; labels: Record<string, string>; source: string }[];
  return list.filter((a) => a.alertname === alertname);
}

describe('Alertmanager in front of the dispatcher', () => {
  it('amtool check-config is clean on both shipped configs', async () => {
    for (const file of [CONFIG, FALLBACK]) {
      const r = await runTool('amtool', ['check-config', file]);
      expect(r.stdout + r.stderr, file).toMatch(/SUCCESS/);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
  });

  it('amtool check-config rejects a broken one (the check can fail)', async () => {
    const bad = path.join(stack.dir, 'bad.yml');
    fs.writeFileSync(
      bad,
      fs.readFileSync(CONFIG, 'utf8').replace('receiver: contimg-alert-dispatcher', 'receiver: nobody'),
    );
    const r = await runTool('amtool', ['check-config', bad]);
    expect(r.code).not.toBe(0);
  });

  it('forwards a group as one webhook, with the token, and the dispatcher delivers one e-mail for it', async () => {
    const labels = (instance: string) => ({
      alertname: 'ContimgDaemonDown',
      job: 'pointing-monitor',
      instance,
      severity: 'critical',
      system: 'contimg',
    });
    await am!.post([{ labels: labels('127.0.0.1:9311') }, { labels: labels('127.0.0.2:9311') }]);
    const mail = await waitForMail(
      'the e-mail for the group',
      OPERATOR,
      '[DSA-110][CRITICAL][FIRING:2] ContimgDaemonDown',
    );
    expect(mail.text).toMatch(/instance=127\.0\.0\.1:9311/);
    expect(mail.text).toMatch(/instance=127\.0\.0\.2:9311/);
    expect(mail.text).toMatch(/^Source: alertmanager$/m);
    // One webhook (the intake counts only accepted requests: the token was presented) for both alerts.
    expect(await intakeCount()).toBe(1);
    const held = await dispatcherAlerts('ContimgDaemonDown');
    expect(held.map((a) => a.labels.instance).sort()).toEqual(['127.0.0.1:9311', '127.0.0.2:9311']);
    for (const a of held) expect(a.source).toBe('alertmanager');
  });

  it('inhibits the backlog alert while dispatch is paused for disk on the same converter', async () => {
    const base = { job: 'streaming-converter', instance: '127.0.0.1:9310', system: 'contimg' };
    await am!.post([
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
    await waitForMail('the pause e-mail', OPERATOR, '[FIRING:1] ContimgConverterDispatchPaused');
    const backlog = await waitForMail(
      'the other host backlog e-mail',
      OPERATOR,
      '[DSA-110][WARNING][FIRING:1] ContimgConverterBacklog',
    );
    expect(backlog.text).toContain('instance=127.0.0.2:9310');
    expect(backlog.text).not.toContain('instance=127.0.0.1:9310');
    expect((await dispatcherAlerts('ContimgConverterBacklog')).map((a) => a.labels.instance)).toEqual([
      '127.0.0.2:9310',
    ]);
    // Seconds later (several group intervals), the first group has still been delivered once.
    expect(mails(OPERATOR, 'ContimgDaemonDown')).toHaveLength(1);
  });

  it('e-mails the alerts about the dispatcher from Alertmanager itself, and still forwards them', async () => {
    await am!.post([
      {
        labels: {
          alertname: 'ContimgAlertDispatchStalled',
          job: 'alert-dispatcher',
          severity: 'critical',
          system: 'contimg',
        },
      },
    ]);
    const direct = await waitForMail(
      'the alerting-path e-mail',
      ALERTING_PATH,
      '[DSA-110][ALERTING PATH] [FIRING:1] ContimgAlertDispatchStalled alert-dispatcher',
    );
    expect(direct.text).toMatch(/^FIRING {2}ContimgAlertDispatchStalled {2}job=alert-dispatcher/m);
    await waitForMail('the dispatcher e-mail', OPERATOR, '[FIRING:1] ContimgAlertDispatchStalled');
    // Only the alerts about the dispatcher take that path.
    expect(smtp.messages.filter((m) => recipients(m).includes(ALERTING_PATH))).toHaveLength(1);
  });
});
