// The real senders on loopback: Prometheus using the dispatcher as its alertmanager (POST /api/v2/alerts,
// re-sent every second here), and Alertmanager forwarding to our webhook intake (alerts added with amtool,
// then resolved). Each turns into one message and, for Alertmanager, one resolved message.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { freePort } from '../../helpers/net.js';
import { waitFor } from '../../helpers/wait.js';
import { RealClock, scope } from './harness.js';

const t = scope('contimg-ad-real-');
const procs: ChildProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
});

function run(bin: string, args: string[]): ChildProcess {
  const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  p.once('exit', (code) => {
    if (code && code !== 0 && code !== 143) process.stderr.write(`${bin} exited ${code}: ${err}\n`);
  });
  procs.push(p);
  return p;
}

/** A Slack peer and the dispatcher on the real clock (the senders keep their own time). */
async function startWithSlack(groupWaitS: number, groupIntervalS: number) {
  const slack = await t.http();
  const r = await t.start(
    {
      groupWaitS,
      groupIntervalS,
      receivers: [{ name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } }],
    },
    { clock: new RealClock() },
  );
  return { slack, r, dir: t.dir };
}

describe('real senders', () => {
  it('Prometheus posting to /api/v2/alerts: one message while it keeps re-sending', async () => {
    const { slack, r, dir } = await startWithSlack(1, 60);
    fs.writeFileSync(
      path.join(dir, 'rules.yml'),
      YAML.stringify({
        groups: [
          {
            name: 'contimg-test',
            interval: '1s',
            rules: [
              {
                alert: 'PromAlwaysFiring',
                expr: 'vector(1)',
                labels: { severity: 'critical', team: 'ops' },
                annotations: { summary: 'always firing' },
              },
            ],
          },
        ],
      }),
    );
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      YAML.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [path.join(dir, 'rules.yml')],
        alerting: {
          alertmanagers: [{ api_version: 'v2', static_configs: [{ targets: [`127.0.0.1:${r.port}`] }] }],
        },
      }),
    );
    const promPort = await freePort();
    run('prometheus', [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--rules.alert.resend-delay=1s',
    ]);
    await waitFor(() => slack.delivered.length === 1, {
      what: 'the message from Prometheus',
      timeoutMs: 45_000,
      intervalMs: 200,
    });
    expect(String(slack.delivered[0].json.text)).toBe('[FIRING:1] PromAlwaysFiring · critical');
    // Prometheus keeps re-sending every second: nothing more is sent.
    const posts = () =>
      r.db.read((c) => (c.prepare('SELECT count(*) AS n FROM external_alerts').get() as { n: number }).n);
    const seenBefore = r.db.read(
      (c) => (c.prepare('SELECT last_seen_at AS t FROM external_alerts').get() as { t: number }).t,
    );
    await waitFor(
      () =>
        r.db.read(
          (c) => (c.prepare('SELECT last_seen_at AS t FROM external_alerts').get() as { t: number }).t,
        ) >
        seenBefore + 2000,
      {
        what: 'more re-sends',
        timeoutMs: 20_000,
      },
    );
    expect(posts()).toBe(1);
    expect(slack.delivered).toHaveLength(1);
    const ext = r.db.read((c) => c.prepare('SELECT origin, generator_url FROM external_alerts').get()) as {
      origin: string;
      generator_url: string;
    };
    expect(ext.origin).toBe('prometheus');
    expect(ext.generator_url).toContain(`:${promPort}/graph`);
  }, 90_000);

  it('Alertmanager forwarding to the webhook intake: one message, one resolved message', async () => {
    const { slack, r, dir } = await startWithSlack(30, 1);
    const amPort = await freePort();
    fs.writeFileSync(
      path.join(dir, 'alertmanager.yml'),
      YAML.stringify({
        route: {
          receiver: 'contimg',
          group_by: ['alertname'],
          group_wait: '1s',
          group_interval: '1s',
          repeat_interval: '1h',
        },
        receivers: [
          {
            name: 'contimg',
            webhook_configs: [
              { url: `http://127.0.0.1:${r.port}/api/alertmanager/webhook`, send_resolved: true },
            ],
          },
        ],
      }),
    );
    run('prometheus-alertmanager', [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'am')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    const amtool = (args: string[]): Promise<void> =>
      new Promise((resolve, reject) =>
        execFile('amtool', [...args, `--alertmanager.url=http://127.0.0.1:${amPort}`], (e, _o, stderr) =>
          e ? reject(new Error(stderr)) : resolve(),
        ),
      );
    await waitFor(async () => (await fetch(`http://127.0.0.1:${amPort}/-/ready`)).ok, {
      what: 'alertmanager ready',
      timeoutMs: 20_000,
    });
    await amtool([
      'alert',
      'add',
      'AmForwarded',
      'severity=warning',
      'instance=h1',
      '--annotation=summary=from alertmanager',
    ]);
    // Alertmanager waited already: our group wait (30 s) does not apply to its alerts.
    await waitFor(() => slack.delivered.length === 1, {
      what: 'the forwarded alert',
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    expect(String(slack.delivered[0].json.text)).toBe('[FIRING:1] AmForwarded · warning');
    const ext = r.db.read((c) =>
      c.prepare('SELECT origin, origin_fingerprint FROM external_alerts').get(),
    ) as { origin: string; origin_fingerprint: string };
    expect(ext.origin).toBe('alertmanager');
    expect(ext.origin_fingerprint).toMatch(/^[0-9a-f]{16}$/);
    await amtool([
      'alert',
      'add',
      'AmForwarded',
      'severity=warning',
      'instance=h1',
      '--annotation=summary=from alertmanager',
      `--end=${new Date(Date.now() - 1000).toISOString()}`,
    ]);
    await waitFor(() => slack.delivered.length === 2, {
      what: 'the resolved message',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    expect(String(slack.delivered[1].json.text)).toBe('[RESOLVED] AmForwarded · warning');
  }, 90_000);
});
