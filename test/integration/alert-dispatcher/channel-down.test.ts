// A channel that is down, then back: retries back off, the circuit opens, each notification fails over to
// e-mail once, and when Slack returns every notification is delivered exactly once; nothing is lost or dead.
import { describe, expect, it } from 'vitest';
import { advance, attempts, outbox, raise, scope, waitFor, type Running } from './harness.js';

const t = scope('contimg-ad-down-');
let r: Running | undefined;

describe('channel down, then back up', () => {
  it('delivers every notification once after the outage, with one failover e-mail each and nothing dead', async () => {
    const slack = await t.http();
    const slackPort = slack.port;
    await slack.stop(); // Slack is down: connection refused
    const smtp = await t.smtp();
    r = await t.start({
      receivers: [
        {
          name: 'slack-ops',
          type: 'slack',
          url: `http://127.0.0.1:${slackPort}/services/T/B/x`,
          timeoutMs: 500,
        },
        {
          name: 'email-ops',
          type: 'email',
          smtp: { host: '127.0.0.1', port: smtp.port, socketTimeoutMs: 2000 },
          from: 'contimg@test',
          to: ['ops@test'],
          rate: { perMinute: 0 },
        },
      ],
      routes: [{ receivers: ['slack-ops'] }],
      failover: { afterS: 60, map: { 'slack-ops': 'email-ops' } },
    });
    raise(r, 'DiskFull', { path: '/data' }, 'critical');
    raise(r, 'DiskFull', { path: '/stage' }, 'critical');
    raise(r, 'UnitDown', { unit: 'a' });
    raise(r, 'UnitDown', { unit: 'b' });
    raise(r, 'SlowJob', { job: 'flux' });
    await advance(r, 31_000);
    await waitFor(() => outbox(r!, "receiver = 'slack-ops'").length === 3, { what: '3 notifications' });
    // Ten minutes of outage in 5 s steps: backoff, the circuit opening, failover after 60 s.
    await advance(r, 600_000, 5000);
    await waitFor(() => smtp.messages.length === 3, { what: 'three failover e-mails' });
    const slackIds = new Set(outbox(r, "receiver = 'slack-ops'").map((n) => n.id));
    const down = attempts(r).filter((a) => slackIds.has(a.notification_id));
    expect(down.length).toBeGreaterThanOrEqual(5);
    expect(down.every((a) => a.result === 'network')).toBe(true);
    const text = await (await fetch(`${r.base}/metrics`)).text();
    expect(text).toMatch(/contimg_alerts_receiver_circuit_open\{receiver="slack-ops"\} 1/);
    // Slack is back on the same port; its queue drains.
    await slack.start(slackPort);
    for (let i = 0; i < 30 && outbox(r, "receiver = 'slack-ops' AND state <> 'sent'").length > 0; i++)
      await advance(r, 30_000, 10_000);
    await waitFor(() => outbox(r!).every((n) => n.state === 'sent'), { what: 'everything sent' });
    const rows = outbox(r);
    expect(rows.filter((n) => n.receiver === 'slack-ops')).toHaveLength(3);
    expect(rows.filter((n) => n.kind === 'failover')).toHaveLength(3);
    expect(rows.some((n) => n.state === 'dead')).toBe(false);
    expect(slack.delivered).toHaveLength(3);
    const titles = slack.delivered.map((q) => String(q.json.text)).sort();
    expect(titles).toEqual([
      '[FIRING:1] SlowJob · warning',
      '[FIRING:2] DiskFull · critical',
      '[FIRING:2] UnitDown · warning',
    ]);
    for (const m of smtp.messages) expect(m.text).toContain('because slack-ops could not deliver it');
    // The failover copies are separate notifications: one per primary, never two.
    expect(new Set(rows.filter((n) => n.kind === 'failover').map((n) => n.failover_of)).size).toBe(3);
  });
});
