// Secrets never leave the process: a Slack URL, an SMTP password, a webhook token and HMAC key and the HTTP
// token carry unique markers; peers echo what they received in their error answers (a proxy page quoting the
// URL, an SMTP server quoting the password, a webhook quoting the Authorization header). Through failures,
// retries, dead notifications and failover, the markers appear in no log line, no stored row, /metrics, no
// API answer, no WebSocket message and no CLI output.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { raiseAlert } from '../../../lib/alerts/index.js';
import { openDb } from '../../../lib/db/index.js';
import { runCli } from '../../helpers/cli.js';
import { freshDatabases } from '../../helpers/db.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { startChild, stopChild, dispatcherConfig, type Child } from './child.js';
import { HttpPeer, SmtpPeer } from './peers.js';

const M = {
  slack: 'MKSLACK0a1b',
  down: 'MKDOWN2c3d',
  smtp: 'MKSMTP4e5f',
  hook: 'MKHOOK6a7b',
  token: 'MKTOKEN8c9d',
  hmac: 'MKHMAC0e1f',
  http: 'MKHTTP2a3b',
};
const ALL = Object.values(M);

let dir = '';
let child: Child | undefined;
const slack = new HttpPeer();
const hook = new HttpPeer();
const smtp = new SmtpPeer();
afterAll(async () => {
  await stopChild(child, 'SIGKILL');
  await slack.stop();
  await hook.stop();
  await smtp.stop();
  removeTmpDir(dir);
});

function leaks(where: string, text: string): string[] {
  return ALL.filter((m) => text.includes(m)).map((m) => `${m} in ${where}`);
}

describe('secrets', () => {
  it('appear nowhere outside the process', async () => {
    dir = makeTmpDir('contimg-ad-secrets-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    await slack.start();
    await hook.start();
    await smtp.start(0, {
      onAuth: (auth, _s, cb) =>
        cb(
          Object.assign(new Error(`Authentication failed for ${auth.username}:${auth.password}`), {
            responseCode: 535,
          }),
        ),
    });
    // Peers quote what they were sent.
    slack.script = [{ status: 404, body: `no_service for ${slack.url}/${M.slack}` }];
    hook.script = [{ status: 500, body: 'echo' }];
    const origFallback = hook.fallback;
    hook.fallback = { status: 200, body: 'ok' };
    const downPort = await freePort();
    const port = await freePort();
    const config = dispatcherConfig(
      dir,
      { statePath, pipelinePath },
      {
        port,
        groupWaitS: 0.1,
        retry: { initialDelayS: 0.2, maxDelayS: 0.5 },
        receivers: [
          { name: 'slack-ops', type: 'slack', url: `${slack.url}/${M.slack}`, rate: { perMinute: 0 } },
          {
            name: 'email-ops',
            type: 'email',
            smtp: { host: '127.0.0.1', port: smtp.port, user: 'contimg', password: M.smtp },
            from: 'a@b.c',
            to: ['o@p.q'],
          },
          {
            name: 'hook',
            type: 'webhook',
            url: `http://127.0.0.1:${hook.port}/h/${M.hook}`,
            token: M.token,
            hmacSecret: M.hmac,
            rate: { perMinute: 0 },
          },
          {
            name: 'down',
            type: 'slack',
            url: `http://127.0.0.1:${downPort}/s/${M.down}`,
            timeoutMs: 500,
            rate: { perMinute: 0 },
          },
        ],
        routes: [{ receivers: ['slack-ops', 'hook', 'down'] }],
        failover: { map: { 'slack-ops': 'email-ops' } },
      },
      { top: { http: { token: M.http }, log: { level: 'debug' } } },
    );
    child = await startChild(config, port, { token: M.http });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${M.http}`);
    const wsText: string[] = [];
    ws.on('message', (m) => wsText.push(m.toString()));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', topic: 'alerts', since_seq: 0 }));

    const db = openDb({ name: 'state', path: statePath });
    db.write((c) =>
      raiseAlert(
        c,
        { alertname: 'LeakCheck', severity: 'critical', labels: {}, annotations: { summary: 'x' } },
        Date.now(),
      ),
    );
    db.close();
    const q = (sql: string) => {
      const d = new Database(statePath, { readonly: true });
      try {
        return d.prepare(sql).all() as Record<string, unknown>[];
      } finally {
        d.close();
      }
    };
    await waitFor(
      () =>
        q("SELECT state FROM notifications WHERE receiver = 'email-ops' AND state = 'dead'").length === 1 &&
        q("SELECT state FROM notifications WHERE receiver = 'hook' AND state = 'sent'").length === 1 &&
        q(
          "SELECT a.id FROM delivery_attempts a JOIN notifications n ON n.id = a.notification_id WHERE n.receiver = 'down'",
        ).length >= 2,
      { what: 'failures everywhere', timeoutMs: 30_000 },
    );
    hook.fallback = origFallback;
    // The peers did receive the secrets (the checks below would pass vacuously otherwise).
    expect(slack.requests[0].path).toContain(M.slack);
    expect(hook.requests[0].headers.authorization).toBe(`Bearer ${M.token}`);
    expect(smtp.auths.length).toBe(0); // the custom onAuth above replaced the recorder
    expect(q("SELECT last_error FROM notifications WHERE receiver = 'email-ops'")[0].last_error).toContain(
      '535',
    );

    const found: string[] = [];
    // Every text column of every table.
    for (const { name } of q("SELECT name FROM sqlite_master WHERE type = 'table'") as { name: string }[])
      for (const row of q(`SELECT * FROM "${name}"`))
        found.push(...leaks(`table ${name}`, JSON.stringify(row)));
    const auth = { authorization: `Bearer ${M.http}` };
    const get = async (p: string) => (await fetch(`http://127.0.0.1:${port}${p}`, { headers: auth })).text();
    found.push(...leaks('/metrics', await get('/metrics')));
    for (const p of ['/api/alerts', '/api/receivers', '/api/silences', '/api/outbox', '/readyz'])
      found.push(...leaks(p, await get(p)));
    for (const { id } of q('SELECT id FROM notifications') as { id: number }[])
      found.push(...leaks(`/api/outbox/${id}`, await get(`/api/outbox/${id}`)));
    const test = await fetch(`http://127.0.0.1:${port}/api/receivers/hook/test`, {
      method: 'POST',
      headers: auth,
    });
    found.push(...leaks('receiver test', await test.text()));
    await waitFor(() => wsText.some((t) => t.includes('alert.fired')), { what: 'ws events' });
    found.push(...leaks('/ws', wsText.join('\n')));
    ws.close();
    for (const args of [
      ['receivers', 'list', '--json'],
      ['outbox', 'list', '--json'],
      ['outbox', 'show', '1', '--json'],
      ['alerts', 'list', '--json'],
      ['check-config', '--print-config'],
    ]) {
      const r = await runCli([...args, '--config', config], { built: true });
      expect(r.code).toBe(0);
      found.push(...leaks(args.join(' '), r.stdout + r.stderr));
    }
    await stopChild(child);
    found.push(...leaks('stdout', child.out()), ...leaks('stderr', child.err()));
    expect(child.out()).toContain('delivery failed; will retry');
    expect(found).toEqual([]);
  });
});
