// The real round trip on loopback: the built daemons (child processes, bearer token required, as when bound
// beyond loopback), a real Prometheus scraping them with our generated config and our rules, the REAL alert
// dispatcher as its alertmanager (POST /api/v2/alerts, with the token), a real SMTP server behind the
// dispatcher's e-mail receiver, and a real Alertmanager running the shipped fallback config (the path around
// the dispatcher, Prometheus's second alertmanager) with its mail relay pointed at the same SMTP server.
// - Kill a daemon: ContimgDaemonDown goes pending → firing → e-mailed by the dispatcher; restart it: the
//   alert resolves and the resolved e-mail follows, threaded to the first. Alertmanager gets the alert too
//   and drops it (not about the dispatcher).
// - Kill the dispatcher: ContimgDaemonDown{job="alert-dispatcher"} reaches the operator by e-mail from
//   Alertmanager, without the dispatcher; restart it: the resolution comes the same way.
//
// The rules are the shipped ones with one change: ContimgDaemonDown's `for:` is 4 s instead of 2 m
// (rulesWithFor); Prometheus scrapes and evaluates every second; the dispatcher and Alertmanager group within
// a second or two. Everything else is the shipped configuration.
import fs from 'node:fs';
import path from 'node:path';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusProcess } from '../../cli/prometheus.js';
import { prometheusConfig, targetsFromConfig } from '../../lib/ops/prometheus-config.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { SmtpPeer } from '../integration/alert-dispatcher/peers.js';
import {
  relayTo,
  shippedConfig,
  startAlertmanager,
  type AlertmanagerProcess,
} from './alertmanager-process.js';
import { builtDaemons, rulesWithFor } from './helpers.js';
import { Stack } from './stack.js';

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

const TOKEN = 'roundtrip-token-0123456789abcdef';
const VICTIM = 'thumbnail-worker';
/** The dispatcher's e-mail receiver (the dev config) and the fallback Alertmanager's recipient. */
const OPERATOR = 'operator@localhost';
const ALERTING_PATH = 'alerting-path@localhost';

let stack: Stack;
const smtp = new SmtpPeer();
let am: AlertmanagerProcess | undefined;
let prometheus: PrometheusProcess | undefined;

beforeAll(async () => {
  await smtp.start();
  stack = await Stack.create({ names: builtDaemons(), token: TOKEN, mailPort: smtp.port });
  const dir = path.join(stack.dir, 'prometheus');
  const fallback = shippedConfig('fallback.yml');
  relayTo(fallback, smtp.port);
  Object.assign(fallback.route, { group_wait: '1s', group_interval: '1s' });
  const email = fallback.receivers.find((r) => r.name === 'alerting-path-email')!.email_configs![0];
  email.to = ALERTING_PATH;
  const [, promPort, alertmanager] = await Promise.all([
    stack.start(),
    freePort(),
    startAlertmanager(fallback, path.join(stack.dir, 'alertmanager')),
  ]);
  am = alertmanager;
  const ruleFiles = rulesWithFor(path.join(dir, 'rules'), { ContimgDaemonDown: '4s' });
  const tokenFile = path.join(dir, 'http-token');
  fs.writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  prometheus = await startPrometheus({
    dir,
    port: promPort,
    config: prometheusConfig({
      targets: targetsFromConfig(stack.config, stack.names),
      ruleFiles,
      alertmanager: { host: '127.0.0.1', port: stack.ports['alert-dispatcher'] },
      fallbackAlertmanager: { host: '127.0.0.1', port: Number(new URL(am.url).port) },
      tokenFile,
      scrapeIntervalS: 1,
      evaluationIntervalS: 1,
    }),
  });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await am?.stop();
  await stack?.stop();
  await smtp.stop();
});

async function alerts(): Promise<ApiAlert[]> {
  return (await prometheus!.api<{ alerts: ApiAlert[] }>('/api/v1/alerts')).alerts;
}

const recipients = (m: ParsedMail): string =>
  (Array.isArray(m.to) ? m.to : [m.to]).map((a) => a?.text ?? '').join(', ');

/** E-mails to `to` whose subject contains every one of `parts`. */
function mails(to: string, ...parts: string[]): ParsedMail[] {
  return smtp.messages.filter(
    (m) => recipients(m).includes(to) && parts.every((p) => (m.subject ?? '').includes(p)),
  );
}

function waitForMail(what: string, to: string, ...parts: string[]): Promise<ParsedMail> {
  return waitFor(() => mails(to, ...parts)[0], {
    what: `${what} (e-mails so far: ${smtp.messages.map((m) => `${recipients(m)}: ${m.subject}`).join(' | ')})`,
    timeoutMs: 40_000,
    intervalMs: 100,
  });
}

describe('Prometheus → alert dispatcher → e-mail, and the path around the dispatcher', () => {
  it('scrapes every built daemon with the bearer token', async () => {
    const targets = await waitFor(
      async () => {
        const t = await prometheus!.api<{
          activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
        }>('/api/v1/targets');
        return t.activeTargets.length === stack.names.length &&
          t.activeTargets.every((x) => x.health === 'up')
          ? t.activeTargets
          : undefined;
      },
      { what: 'every target up', timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(targets.map((t) => t.labels.job).sort()).toEqual([...stack.names].sort());
    for (const t of targets) expect(t.labels.system).toBe('contimg');
    // The daemons really enforce the token: without it, /metrics and the dispatcher's intake are refused.
    expect((await fetch(stack.url(VICTIM, '/metrics'))).status).toBe(401);
    const intake = await fetch(stack.url('alert-dispatcher', '/api/v2/alerts'), {
      method: 'POST',
      body: '[]',
    });
    expect(intake.status).toBe(401);
  });

  it('ContimgDaemonDown: pending → firing → e-mailed by the dispatcher → resolved e-mail after a restart', async () => {
    await stack.kill(VICTIM, 'SIGKILL');
    const states: string[] = [];
    const down = (a: ApiAlert) => a.labels.alertname === 'ContimgDaemonDown' && a.labels.job === VICTIM;
    const firing = await waitFor(
      async () => {
        const a = (await alerts()).find(down);
        if (a && states.at(-1) !== a.state) states.push(a.state);
        return a?.state === 'firing' ? a : undefined;
      },
      { what: 'ContimgDaemonDown firing', timeoutMs: 40_000, intervalMs: 100 },
    );
    expect(states).toEqual(['pending', 'firing']);
    expect(firing.labels).toMatchObject({ severity: 'critical', system: 'contimg', job: VICTIM });

    const mail = await waitForMail(
      'the firing e-mail',
      OPERATOR,
      '[DSA-110][CRITICAL][FIRING:1] ContimgDaemonDown',
    );
    const instance = `127.0.0.1:${stack.ports[VICTIM]}`;
    expect(mail.text).toContain(`Summary: contimg ${VICTIM} is down`);
    expect(mail.text).toContain(`scrape ${VICTIM} at ${instance}`);
    expect(mail.text).toMatch(
      new RegExp(`Labels: .*instance=${instance.replace(/\./g, '\\.')}.*job=${VICTIM}`),
    );
    expect(mail.text).toContain('Runbook: file:///opt/contimg/docs/runbook.md#contimgdaemondown');
    expect(mail.text).toContain(`Source: ${prometheus!.url}/graph`);
    expect(mail.text).toMatch(/^Source: prometheus$/m);
    // Prometheus presented the token to the dispatcher's intake.
    const metrics = await stack.scrape('alert-dispatcher');
    expect(metrics).toMatch(/contimg_alerts_intake_requests_total\{endpoint="prometheus",code="200"\} [1-9]/);
    // Only the dead daemon was reported.
    for (const m of mails(OPERATOR, 'ContimgDaemonDown'))
      expect(m.text).not.toMatch(/job=(?!thumbnail-worker)/);
    // The fallback Alertmanager got the alert too, and routes it nowhere: it is not about the dispatcher.
    const inAm = await waitFor(
      async () => {
        const list = (await (
          await fetch(`${am!.url}/api/v2/alerts?filter=alertname%3D%22ContimgDaemonDown%22`)
        ).json()) as { labels: Record<string, string>; receivers: { name: string }[] }[];
        return list.find((a) => a.labels.job === VICTIM);
      },
      { what: 'the alert in the fallback Alertmanager', timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(inAm.receivers.map((r) => r.name)).toEqual(['discard']);

    await stack.start(VICTIM);
    await waitFor(async () => !(await alerts()).some(down), {
      what: 'ContimgDaemonDown gone',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const resolved = await waitForMail(
      'the resolved e-mail',
      OPERATOR,
      '[DSA-110][RESOLVED] ContimgDaemonDown',
    );
    expect(resolved.text).toMatch(/^RESOLVED {2}ContimgDaemonDown$/m);
    expect(resolved.inReplyTo).toBe(mail.messageId);
    expect(mails(OPERATOR, 'ContimgDaemonDown', 'FIRING')).toHaveLength(1);
    expect(mails(ALERTING_PATH)).toEqual([]);
  });

  it('the dispatcher down: the fallback Alertmanager e-mails it, and its resolution, without the dispatcher', async () => {
    await stack.kill('alert-dispatcher', 'SIGKILL');
    const mail = await waitForMail(
      'the alerting-path e-mail',
      ALERTING_PATH,
      '[DSA-110][ALERTING PATH] [FIRING:1] ContimgDaemonDown alert-dispatcher',
    );
    expect(mail.text).toMatch(
      /^FIRING {2}ContimgDaemonDown {2}job=alert-dispatcher instance=127\.0\.0\.1:\d+$/m,
    );
    expect(mail.text).toContain('Summary: contimg alert-dispatcher is down');
    expect(mail.text).toContain('Runbook: file:///opt/contimg/docs/runbook.md#contimgdaemondown');
    expect(mail.html).toContain('ContimgDaemonDown');
    await stack.start('alert-dispatcher');
    const resolved = await waitForMail(
      'the alerting-path resolution',
      ALERTING_PATH,
      '[DSA-110][ALERTING PATH] [RESOLVED] ContimgDaemonDown alert-dispatcher',
    );
    expect(resolved.text).toMatch(/^RESOLVED {2}ContimgDaemonDown {2}job=alert-dispatcher/m);
    // Nothing else went that way.
    expect(mails(ALERTING_PATH).every((m) => m.subject?.includes('ContimgDaemonDown alert-dispatcher'))).toBe(
      true,
    );
  });
});
