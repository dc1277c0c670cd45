// The real round trip on loopback, part 1: the built daemons (child processes, bearer token required, as
// when bound beyond loopback), a real Prometheus scraping them with our generated config and our rules, and
// a loopback receiver as its alertmanager (POST /api/v2/alerts, where the alert dispatcher will sit). Kill a
// daemon: ContimgDaemonDown goes pending → firing and arrives with its labels and annotations; restart it:
// the alert resolves and the resolution arrives too.
//
// The rules are the shipped ones with one change: ContimgDaemonDown's `for:` is 4 s instead of 2 m
// (rulesWithFor), and Prometheus scrapes and evaluates every second.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusProcess } from '../../cli/prometheus.js';
import { prometheusConfig, targetsFromConfig } from '../../lib/ops/prometheus-config.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { builtDaemons, rulesWithFor } from './helpers.js';
import { startReceiver, type Receiver } from './receiver.js';
import { Stack } from './stack.js';

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

interface SentAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

const TOKEN = 'roundtrip-token-0123456789abcdef';
const VICTIM = 'thumbnail-worker';
let stack: Stack;
let receiver: Receiver;
let prometheus: PrometheusProcess | undefined;

beforeAll(async () => {
  stack = await Stack.create({ names: builtDaemons(), token: TOKEN });
  receiver = await startReceiver();
  const [, promPort] = await Promise.all([stack.start(), freePort()]);
  const dir = path.join(stack.dir, 'prometheus');
  const ruleFiles = rulesWithFor(path.join(dir, 'rules'), { ContimgDaemonDown: '4s' });
  const tokenFile = path.join(dir, 'http-token');
  fs.writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  prometheus = await startPrometheus({
    dir,
    port: promPort,
    config: prometheusConfig({
      targets: targetsFromConfig(stack.config, stack.names),
      ruleFiles,
      alertmanager: { host: '127.0.0.1', port: receiver.port },
      tokenFile,
      scrapeIntervalS: 1,
      evaluationIntervalS: 1,
    }),
  });
}, 90_000);

afterAll(async () => {
  await prometheus?.stop();
  await receiver?.close();
  await stack?.stop();
});

async function alerts(): Promise<ApiAlert[]> {
  return (await prometheus!.api<{ alerts: ApiAlert[] }>('/api/v1/alerts')).alerts;
}

function sent(alertname: string, job: string): SentAlert[] {
  return receiver.requests
    .filter((r) => r.path === '/api/v2/alerts')
    .flatMap((r) => r.body as SentAlert[])
    .filter((a) => a.labels.alertname === alertname && a.labels.job === job);
}

describe('Prometheus → alert intake round trip', () => {
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
    // The daemons really enforce the token: without it, /metrics is refused.
    expect((await fetch(stack.url(VICTIM, '/metrics'))).status).toBe(401);
  });

  it('ContimgDaemonDown goes pending → firing when a daemon dies, reaches the receiver, and resolves after a restart', async () => {
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
    expect(firing.annotations.summary).toBe(`contimg ${VICTIM} is down`);

    const [delivered] = await waitFor(
      () => sent('ContimgDaemonDown', VICTIM).length > 0 && sent('ContimgDaemonDown', VICTIM),
      {
        what: 'the alert at the receiver',
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    expect(delivered.labels).toEqual({
      alertname: 'ContimgDaemonDown',
      severity: 'critical',
      system: 'contimg',
      job: VICTIM,
      instance: `127.0.0.1:${stack.ports[VICTIM]}`,
    });
    expect(delivered.annotations.runbook_url).toBe('file:///opt/contimg/docs/runbook.md#contimgdaemondown');
    expect(delivered.annotations.description).toContain(
      `scrape ${VICTIM} at 127.0.0.1:${stack.ports[VICTIM]}`,
    );
    expect(Date.parse(delivered.endsAt)).toBeGreaterThan(Date.now());
    expect(delivered.generatorURL).toContain(prometheus!.url);
    const request = receiver.requests.find((r) => r.path === '/api/v2/alerts')!;
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toMatch(/application\/json/);
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    // Only the dead daemon was reported.
    const jobs = new Set(
      receiver.requests.flatMap((r) =>
        (r.body as SentAlert[]).map((a) => `${a.labels.alertname}/${a.labels.job}`),
      ),
    );
    expect([...jobs]).toEqual([`ContimgDaemonDown/${VICTIM}`]);

    await stack.start(VICTIM);
    await waitFor(async () => !(await alerts()).some(down), {
      what: 'ContimgDaemonDown gone',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const resolved = await waitFor(
      () => sent('ContimgDaemonDown', VICTIM).find((a) => Date.parse(a.endsAt) <= Date.now()),
      { what: 'the resolution at the receiver', timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(resolved.startsAt).toBe(delivered.startsAt);
  });
});
