// Alerts from outside: Alertmanager's v4 webhook (stored with its fingerprints, one message, its repeats
// absorbed, one resolved message), Prometheus posting to /api/v2/alerts every 30 s (one message, one resolved
// message, also when it just stops re-sending), bad payloads → 400 naming the field, a missing token → 401,
// a locked database → 503 with nothing half-written.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { advance, outbox, scope, waitFor, type Running } from './harness.js';
import type { HttpPeer } from './peers.js';

const t = scope('contimg-ad-intake-');
let r = undefined as unknown as Running;
let slack: HttpPeer;

const TOKEN = 'intake-token-1';
const titles = () => slack.delivered.map((q) => String(q.json.text));

async function start(extra: Record<string, unknown> = {}): Promise<Running> {
  slack = await t.http();
  r = await t.start(
    {
      groupWaitS: 30,
      groupIntervalS: 60,
      receivers: [{ name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } }],
      intake: { writeBudgetMs: 300, resolveTimeoutS: 300 },
      ...extra,
    },
    // A short write budget: the lease renewal of the loop helper waits for the lock on the event loop.
    { top: { http: { token: TOKEN }, databases: { writeBudgetMs: 1000 } } },
  );
  return r;
}

function post(path: string, body: unknown, token: string | null = TOKEN): Promise<Response> {
  return fetch(`${r.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function v4(status: 'firing' | 'resolved'): Record<string, unknown> {
  const endsAt = status === 'firing' ? '0001-01-01T00:00:00Z' : new Date(r.clock.now()).toISOString();
  const alert = (instance: string, fingerprint: string) => ({
    status,
    labels: { alertname: 'NodeDown', instance, severity: 'critical' },
    annotations: { summary: `${instance} is down` },
    startsAt: new Date(r.clock.now() - 120_000).toISOString(),
    endsAt,
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
    fingerprint,
  });
  return {
    version: '4',
    groupKey: '{}:{alertname="NodeDown"}',
    truncatedAlerts: 0,
    status,
    receiver: 'contimg',
    groupLabels: { alertname: 'NodeDown' },
    commonLabels: { alertname: 'NodeDown', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: [alert('h1:9100', 'a1b2c3d4e5f60001'), alert('h2:9100', 'a1b2c3d4e5f60002')],
  };
}

describe('Alertmanager webhook intake', () => {
  it('stores the alerts with their fingerprints, sends one message, absorbs repeats, sends one resolved message', async () => {
    await start();
    const res = await post('/api/alertmanager/webhook', v4('firing'));
    expect(res.status).toBe(200);
    const ext = r.db.read((c) =>
      c
        .prepare(
          'SELECT origin, origin_fingerprint, generator_url, group_key FROM external_alerts ORDER BY origin_fingerprint',
        )
        .all(),
    );
    expect(ext).toEqual([
      {
        origin: 'alertmanager',
        origin_fingerprint: 'a1b2c3d4e5f60001',
        generator_url: 'http://prometheus:9090/graph?g0.expr=up',
        group_key: '{}:{alertname="NodeDown"}',
      },
      {
        origin: 'alertmanager',
        origin_fingerprint: 'a1b2c3d4e5f60002',
        generator_url: 'http://prometheus:9090/graph?g0.expr=up',
        group_key: '{}:{alertname="NodeDown"}',
      },
    ]);
    // Alertmanager already waited: no group wait here.
    await waitFor(() => titles().length === 1, { what: 'one message' });
    expect(titles()).toEqual(['[FIRING:2] NodeDown · critical']);
    expect((await post('/api/alertmanager/webhook', v4('firing'))).status).toBe(200);
    await advance(r, 120_000, 30_000);
    expect(titles()).toHaveLength(1);
    expect((await post('/api/alertmanager/webhook', v4('resolved'))).status).toBe(200);
    await advance(r, 60_000, 30_000);
    await waitFor(() => titles().length === 2, { what: 'the resolved message' });
    expect(titles()[1]).toBe('[RESOLVED] NodeDown · critical');
    const m = await (
      await fetch(`${r.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    expect(m).toMatch(/contimg_alerts_intake_requests_total\{endpoint="alertmanager",code="200"\} 3/);
  });

  it('400 names the bad field, 401 without the token, 503 while the database is locked; nothing half-written', async () => {
    await start();
    const bad = await post('/api/alertmanager/webhook', {
      ...v4('firing'),
      alerts: [{ status: 'firing', labels: { instance: 'x' } }],
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe(
      'alerts.0.labels: labels.alertname is required',
    );
    const badTime = await post('/api/v2/alerts', [{ labels: { alertname: 'X' }, startsAt: 'yesterday' }]);
    expect(badTime.status).toBe(400);
    expect(((await badTime.json()) as { message: string }).message).toContain('alerts.0.startsAt');
    expect((await post('/api/alertmanager/webhook', '{"version": "4", ')).status).toBe(400);
    expect((await post('/api/alertmanager/webhook', v4('firing'), null)).status).toBe(401);
    expect((await post('/api/alertmanager/webhook', v4('firing'), 'wrong')).status).toBe(401);

    const holder = new Database(r.statePath);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const locked = await post('/api/alertmanager/webhook', v4('firing'));
      expect(locked.status).toBe(503);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const count = () =>
      r.db.read((c) => (c.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n);
    expect(count()).toBe(0);
    expect((await post('/api/alertmanager/webhook', v4('firing'))).status).toBe(200);
    expect(count()).toBe(2);
  });
});

describe('Prometheus posting to /api/v2/alerts', () => {
  const promAlert = (now: number, endsInMs: number) => [
    {
      labels: { alertname: 'ConverterBacklogHigh', job: 'contimg', severity: 'warning' },
      annotations: { summary: 'backlog above 10 groups', value: '12' },
      startsAt: new Date(now - 60_000).toISOString(),
      endsAt: new Date(now + endsInMs).toISOString(),
      generatorURL: 'http://prometheus:9090/graph?g0.expr=backlog',
    },
  ];

  it('re-sent every 30 s: one notification while firing, one resolved message when resolved', async () => {
    await start();
    for (let i = 0; i < 12; i++) {
      expect((await post('/api/v2/alerts', promAlert(r.clock.now(), 240_000))).status).toBe(200);
      await advance(r, 30_000);
    }
    await waitFor(() => titles().length === 1, { what: 'the firing message' });
    // Resolved: Prometheus sends the alert with endsAt at the resolution time for a while.
    for (let i = 0; i < 4; i++) {
      expect((await post('/api/v2/alerts', promAlert(r.clock.now(), -1000))).status).toBe(200);
      await advance(r, 30_000);
    }
    await waitFor(() => titles().length === 2, { what: 'the resolved message' });
    expect(titles()).toEqual([
      '[FIRING:1] ConverterBacklogHigh · warning',
      '[RESOLVED] ConverterBacklogHigh · warning',
    ]);
    expect(outbox(r).map((n) => n.kind)).toEqual(['firing', 'resolved']);
    const events = r.db.read(
      (c) => c.prepare('SELECT event FROM alert_events ORDER BY id').all() as { event: string }[],
    );
    expect(events.map((e) => e.event)).toEqual(['fired', 'resolved']);
  });

  it('a firing alert that is no longer re-sent resolves at its endsAt', async () => {
    await start();
    expect((await post('/api/v2/alerts', promAlert(r.clock.now(), 240_000))).status).toBe(200);
    await advance(r, 31_000);
    await waitFor(() => titles().length === 1, { what: 'firing' });
    await advance(r, 300_000, 30_000);
    await waitFor(() => titles().length === 2, { what: 'resolved by endsAt' });
    expect(titles()[1]).toBe('[RESOLVED] ConverterBacklogHigh · warning');
  });
});
