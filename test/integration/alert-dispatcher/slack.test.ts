// Slack delivery against a real HTTP peer answering like Slack's incoming webhooks: 429 with Retry-After (in
// seconds or as a date), 404 no_service (dead at once, failover e-mail), 400 invalid_payload (once more as
// plain text), 500 (backoff), and a request that never gets an answer (timeout).
import { describe, expect, it } from 'vitest';
import {
  advance,
  attempts,
  metricsText,
  metricValue,
  outbox,
  raise,
  scope,
  waitFor,
  type Running,
} from './harness.js';
import type { HttpPeer, SmtpPeer } from './peers.js';

const t = scope('contimg-ad-slack-');
let r: Running | undefined;
let slack: HttpPeer;
let smtp: SmtpPeer;

async function start(extra: Record<string, unknown> = {}): Promise<Running> {
  slack = await t.http();
  smtp = await t.smtp();
  r = await t.start({
    groupWaitS: 0,
    receivers: [
      { name: 'slack-ops', type: 'slack', url: slack.url, timeoutMs: 400, rate: { perMinute: 0 } },
      {
        name: 'email-ops',
        type: 'email',
        smtp: { host: '127.0.0.1', port: smtp.port },
        from: 'd@test',
        to: ['ops@test'],
      },
    ],
    routes: [{ receivers: ['slack-ops'] }],
    failover: { map: { 'slack-ops': 'email-ops' } },
    ...extra,
  });
  return r;
}

describe('Slack delivery', () => {
  it('429 with Retry-After: 7 → the next attempt at least 7 s later, http_429 recorded, circuit closed', async () => {
    await start({ circuit: { failureThreshold: 1 } });
    slack.script = [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '7' } }];
    raise(r!, 'UnitDown', { unit: 'a' });
    await waitFor(() => slack.requests.length === 1, { what: 'first request' });
    for (let i = 0; i < 10 && slack.delivered.length === 0; i++) await advance(r!, 1000);
    await waitFor(() => outbox(r!)[0]?.state === 'sent', { what: 'sent' });
    const [first, second] = attempts(r!);
    expect(first).toMatchObject({ result: 'http_429', http_status: 429, retry_after_ms: 7000 });
    expect(second.result).toBe('ok');
    expect(second.started_at - first.started_at).toBeGreaterThanOrEqual(7000);
    expect(slack.requests[1].clockAt - slack.requests[0].clockAt).toBeGreaterThanOrEqual(7000);
    expect(
      metricValue(await metricsText(r!), 'contimg_alerts_receiver_circuit_open', { receiver: 'slack-ops' }),
    ).toBe(0);
  });

  it('429 with Retry-After as an HTTP date', async () => {
    await start();
    slack.script = [
      {
        status: 429,
        body: 'rate_limited',
        headers: { 'retry-after': new Date(Date.UTC(2026, 0, 15, 12, 0, 20)).toUTCString() },
      },
    ];
    raise(r!, 'UnitDown', { unit: 'a' });
    await waitFor(() => slack.requests.length === 1, { what: 'first request' });
    for (let i = 0; i < 30 && slack.delivered.length === 0; i++) await advance(r!, 1000);
    await waitFor(() => slack.delivered.length === 1, { what: 'delivered' });
    expect(slack.requests[1].clockAt).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 15, 12, 0, 20));
  });

  it('404 no_service: one attempt, dead, a failover e-mail naming the receiver, the dead counter up', async () => {
    await start();
    slack.script = [{ status: 404, body: 'no_service' }];
    raise(r!, 'UnitDown', { unit: 'a' }, 'critical');
    await waitFor(() => smtp.messages.length === 1, { what: 'failover e-mail' });
    const [primary, copy] = outbox(r!);
    expect(primary).toMatchObject({
      receiver: 'slack-ops',
      state: 'dead',
      attempts: 1,
      last_result: 'http_4xx',
    });
    expect(primary.last_error).toContain('404');
    expect(copy).toMatchObject({ receiver: 'email-ops', kind: 'failover', failover_of: primary.id });
    expect(slack.requests).toHaveLength(1);
    expect(smtp.messages[0].text).toContain('Delivered to email-ops because slack-ops could not deliver it');
    expect(smtp.messages[0].subject).toBe('[DSA-110][CRITICAL][FIRING:1] UnitDown');
    const m = await metricsText(r!);
    expect(
      metricValue(m, 'contimg_alerts_notifications_total', {
        receiver: 'slack-ops',
        kind: 'firing',
        outcome: 'dead',
      }),
    ).toBe(1);
    expect(metricValue(m, 'contimg_alerts_failovers_total', { receiver: 'slack-ops' })).toBe(1);
  });

  it('400 invalid_payload: retried once as plain text; rejected again, dead', async () => {
    await start();
    slack.script = [{ status: 400, body: 'invalid_payload' }];
    raise(r!, 'UnitDown', { unit: 'a' });
    await waitFor(() => slack.delivered.length === 1, { what: 'plain-text delivery' });
    expect(slack.requests[0].json.attachments).toBeDefined();
    expect(slack.requests[1].json.attachments).toBeUndefined();
    expect(String(slack.requests[1].json.text)).toContain('FIRING UnitDown: UnitDown is bad');
    await waitFor(() => outbox(r!)[0].state === 'sent', { what: 'sent' });
    expect(attempts(r!).map((a) => a.result)).toEqual(['http_4xx', 'ok']);

    slack.script = [
      { status: 400, body: 'invalid_payload' },
      { status: 400, body: 'invalid_payload' },
    ];
    raise(r!, 'Other', { unit: 'b' });
    await waitFor(
      () => outbox(r!, "group_key LIKE '%Other%' AND receiver = 'slack-ops'")[0]?.state === 'dead',
      { what: 'dead after two 400s' },
    );
    expect(outbox(r!, "group_key LIKE '%Other%' AND receiver = 'slack-ops'")[0].attempts).toBe(2);
  });

  it('500 backs off and retries; a request left unanswered times out and is retried', async () => {
    await start();
    slack.script = [{ status: 500, body: 'boom' }, 'hang'];
    raise(r!, 'UnitDown', { unit: 'a' });
    await waitFor(() => slack.requests.length === 1, { what: 'first request' });
    await waitFor(() => attempts(r!)[0]?.result === 'http_5xx', { what: 'first attempt recorded' });
    await advance(r!, 6100); // ≥ 5 s × 1.2
    await waitFor(() => attempts(r!)[1]?.result === 'timeout', {
      what: 'second attempt timed out',
      timeoutMs: 10_000,
    });
    const a = attempts(r!);
    expect(a[1].finished_at! - a[1].started_at).toBeLessThan(2000);
    for (let i = 0; i < 5 && slack.delivered.length === 0; i++) await advance(r!, 12_100);
    await waitFor(() => outbox(r!)[0].state === 'sent', { what: 'sent on the third attempt' });
    expect(outbox(r!)[0].attempts).toBe(3);
  });
});
