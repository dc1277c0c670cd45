// Acknowledgement and escalation: a critical alert nobody acknowledges for 30 min is also sent to the
// escalation receiver, once; an ack stops repeats and escalation; the resolution still reaches every receiver
// that got the firing message (the escalation receiver too). Unack resumes repeats.
import { describe, expect, it } from 'vitest';
import { advance, attempts, outbox, raise, resolve, scope, waitFor, type Running } from './harness.js';
import type { HttpPeer, SmtpPeer } from './peers.js';

const t = scope('contimg-ad-ack-');
let r: Running | undefined;
let slack: HttpPeer;
let smtp: SmtpPeer;

const titles = () => slack.delivered.map((q) => String(q.json.text));

describe('acknowledgement and escalation', () => {
  it('escalates once after 30 min, an ack stops repeats and escalation, the resolution goes to both', async () => {
    [slack, smtp] = [await t.http(), await t.smtp()];
    r = await t.start({
      groupWaitS: 30,
      groupIntervalS: 300,
      receivers: [
        { name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } },
        {
          name: 'oncall',
          type: 'email',
          smtp: { host: '127.0.0.1', port: smtp.port },
          from: 'd@test',
          to: ['oncall@test'],
        },
      ],
      routes: [{ receivers: ['slack-ops'] }],
      escalation: { afterS: 1800, receivers: ['oncall'] },
    });
    const fp = raise(r, 'SchedulerJobFailing', { job: 'health' }, 'critical');
    await advance(r, 31_000);
    await waitFor(() => titles().length === 1, { what: 'firing to Slack' });
    await advance(r, 1_740_000, 60_000); // t = 29:31: not yet
    expect(smtp.messages).toHaveLength(0);
    await advance(r, 120_000, 60_000);
    await waitFor(() => smtp.messages.length === 1, { what: 'the escalation e-mail' });
    expect(smtp.messages[0].subject).toBe('[DSA-110][CRITICAL][ESCALATED][FIRING:1] SchedulerJobFailing');

    const ack = await fetch(`${r.base}/api/alerts/${fp}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'alice', comment: 'looking' }),
    });
    expect(ack.status).toBe(200);
    expect(await ack.json()).toMatchObject({ fingerprint: fp, ackedBy: 'alice', episode: 1 });
    const api = (await (await fetch(`${r.base}/api/alerts/${fp}`)).json()) as { state: string };
    expect(api.state).toBe('acked');
    // Two more hours: the critical repeat interval (1 h) passes twice, nothing is sent.
    await advance(r, 7_200_000, 300_000);
    expect(
      titles(),
      JSON.stringify([
        outbox(r).map((n) => [n.id, n.receiver, n.kind, n.state, n.group_key, n.attempts]),
        attempts(r).map((a) => [a.notification_id, a.attempt_no, a.result, a.started_at - 1768478400000]),
      ]),
    ).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);

    resolve(r, 'SchedulerJobFailing', { job: 'health' });
    await advance(r, 300_000, 100_000);
    await waitFor(() => titles().length === 2 && smtp.messages.length === 2, { what: 'resolved to both' });
    expect(titles()[1]).toBe('[RESOLVED] SchedulerJobFailing · critical');
    expect(smtp.messages[1].subject).toBe('[DSA-110][RESOLVED] SchedulerJobFailing');
    expect(smtp.messages[1].inReplyTo).toBe(smtp.messages[0].messageId);
    await advance(r, 3_600_000, 600_000);
    expect(titles()).toHaveLength(2);
    expect(smtp.messages).toHaveLength(2);
  });

  it('unack resumes repeats; acking an unknown or resolved alert is refused', async () => {
    slack = await t.http();
    r = await t.start({
      groupWaitS: 0,
      groupIntervalS: 60,
      repeatIntervalS: { critical: 600 },
      receivers: [{ name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } }],
    });
    const fp = raise(r, 'DiskLow', { path: '/data' }, 'critical');
    await waitFor(() => titles().length === 1, { what: 'firing' });
    const post = (path: string, body: unknown, method = 'POST') =>
      fetch(`${r!.base}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post(`/api/alerts/${fp}/ack`, { by: 'bob' })).status).toBe(200);
    await advance(r, 1_200_000, 60_000);
    expect(titles()).toHaveLength(1);
    expect((await fetch(`${r.base}/api/alerts/${fp}/ack`, { method: 'DELETE' })).status).toBe(200);
    await advance(r, 120_000, 60_000);
    await waitFor(() => titles().length === 2, { what: 'a repeat after unack' });
    expect(titles()[1]).toBe('[FIRING:1] DiskLow · critical');
    expect((await post('/api/alerts/0000000000000000/ack', { by: 'x' })).status).toBe(404);
    expect((await post(`/api/alerts/${fp}/ack`, {})).status).toBe(400);
    resolve(r, 'DiskLow', { path: '/data' });
    expect((await post(`/api/alerts/${fp}/ack`, { by: 'x' })).status).toBe(409);
  });
});
