// What each channel says: Slack's fallback text, colours, escaping and length limits, plain text after a
// rejected payload, the e-mail subject and body, Alertmanager v4 webhook JSON, digests and carried resolutions.
import { describe, expect, it } from 'vitest';
import { buildDigest } from '../../../daemons/alert-dispatcher/digest.js';
import { buildContent, carryResolved, type ContentAlert } from '../../../lib/notifiers/content.js';
import { emailBody, emailSubject } from '../../../lib/notifiers/render-email.js';
import { renderSlack, SLACK_COLORS } from '../../../lib/notifiers/render-slack.js';
import { alertmanagerV4, legacyWebhook, ZERO_TIME } from '../../../lib/notifiers/render-webhook.js';

const T = Date.UTC(2026, 0, 15, 12);

function alert(fp: string, p: Partial<ContentAlert> = {}): ContentAlert {
  return {
    fingerprint: fp,
    episode: 1,
    status: 'firing',
    alertname: 'CalibratorFluxDrift',
    severity: 'critical',
    labels: { alertname: 'CalibratorFluxDrift', calibrator: fp, severity: 'critical' },
    annotations: { summary: `drift on ${fp}`, runbook_url: 'https://runbooks/flux' },
    source: 'flux',
    startsAt: T,
    endsAt: null,
    generatorUrl: null,
    acked: false,
    ...p,
  };
}

function content(firing: ContentAlert[], resolved: ContentAlert[] = [], maxAlerts = 20) {
  return buildContent({
    kind: firing.length ? 'firing' : 'resolved',
    receiver: 'slack-ops',
    groupKey: 'r0:{alertname="CalibratorFluxDrift"}',
    groupLabels: { alertname: 'CalibratorFluxDrift' },
    firing,
    resolved,
    maxAlerts,
    externalUrl: 'http://127.0.0.1:9313',
    host: 'dsa110-host',
    now: T,
  });
}

describe('Slack', () => {
  it('text fallback, colour by severity or resolved, a header and a section per alert', () => {
    const p = renderSlack(
      content([alert('3C286'), alert('3C48')]),
      { username: 'DSA-110 Pipeline', iconEmoji: ':telescope:' },
      false,
    );
    expect(p.text).toBe('[FIRING:2] CalibratorFluxDrift · critical');
    expect(p.username).toBe('DSA-110 Pipeline');
    const att = (
      p.attachments as { color: string; blocks: { type: string; text?: { text: string } }[] }[]
    )[0];
    expect(att.color).toBe(SLACK_COLORS.critical);
    expect(att.blocks[0]).toMatchObject({ type: 'header', text: { text: '[FIRING:2] CalibratorFluxDrift' } });
    expect(att.blocks.filter((b) => b.type === 'section')).toHaveLength(2);
    const resolved = renderSlack(
      content([], [alert('3C286', { status: 'resolved', endsAt: T + 1 })]),
      { username: 'u', iconEmoji: ':x:' },
      false,
    );
    expect(resolved.text).toBe('[RESOLVED] CalibratorFluxDrift · critical');
    expect((resolved.attachments as { color: string }[])[0].color).toBe(SLACK_COLORS.resolved);
  });

  it('escapes & < > and keeps to the header and section limits', () => {
    const long = 'x'.repeat(5000);
    const p = renderSlack(
      content([
        alert('a', { alertname: `A&B<${'n'.repeat(200)}>`, annotations: { summary: `<b>&${long}` } }),
      ]),
      { username: 'u', iconEmoji: ':x:' },
      false,
    );
    const blocks = (p.attachments as { blocks: { type: string; text?: { text: string } }[] }[])[0].blocks;
    const section = blocks.find((b) => b.type === 'section')!.text!.text;
    expect(section).toContain('A&amp;B&lt;');
    expect(section).not.toContain('<b>');
    expect(section.length).toBeLessThanOrEqual(3000);
    expect(blocks[0].text!.text.length).toBeLessThanOrEqual(150);
  });

  it('at most maxAlertsPerMessage alerts, then "+N more"; plain text carries the same lines', () => {
    const many = Array.from({ length: 25 }, (_, i) => alert(`c${i}`));
    const c = content(many);
    expect(c.alerts).toHaveLength(20);
    expect(c.truncated).toBe(5);
    const p = renderSlack(c, { username: 'u', iconEmoji: ':x:' }, false);
    expect(JSON.stringify(p)).toContain('+5 more');
    const plain = renderSlack(c, { username: 'u', iconEmoji: ':x:' }, true);
    expect(plain.attachments).toBeUndefined();
    expect(plain.text).toContain('FIRING CalibratorFluxDrift: drift on c0');
    expect(plain.text).toContain('+5 more');
  });
});

describe('e-mail', () => {
  it('subject and plain-text sections', () => {
    const c = content([
      alert('3C286', { annotations: { summary: 'drift 36 %', description: 'over 7 d', value: '36.0' } }),
    ]);
    expect(emailSubject(c, '[DSA-110]')).toBe('[DSA-110][CRITICAL][FIRING:1] CalibratorFluxDrift');
    const body = emailBody(c);
    for (const part of [
      'Status: firing',
      'Severity: critical',
      'Source: flux',
      'Group: alertname=CalibratorFluxDrift',
      'Summary: drift 36 %',
      'Description: over 7 d',
      'Value: 36.0',
      'Acknowledge: contimg alerts ack 3C286',
      'Silence: contimg silences add',
    ])
      expect(body).toContain(part);
    expect(emailSubject(content([], [alert('a', { status: 'resolved' })]), '[DSA-110]')).toBe(
      '[DSA-110][RESOLVED] CalibratorFluxDrift',
    );
  });
});

describe('webhooks', () => {
  it('Alertmanager v4: fields, zero endsAt while firing', () => {
    const body = alertmanagerV4(
      content([alert('a')], [alert('b', { status: 'resolved', endsAt: T + 60_000 })]),
    );
    expect(body).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'slack-ops',
      groupLabels: { alertname: 'CalibratorFluxDrift' },
      truncatedAlerts: 0,
    });
    const alerts = body.alerts as { status: string; endsAt: string; fingerprint: string }[];
    expect(alerts[0]).toMatchObject({ status: 'firing', endsAt: ZERO_TIME, fingerprint: 'a' });
    expect(alerts[1]).toMatchObject({ status: 'resolved', endsAt: new Date(T + 60_000).toISOString() });
  });

  it('legacy {severity, title, message, source, timestamp}', () => {
    expect(Object.keys(legacyWebhook(content([alert('a')]))).sort()).toEqual([
      'message',
      'severity',
      'source',
      'timestamp',
      'title',
    ]);
  });
});

describe('digest and carry', () => {
  it('counts per alertname and severity, at most 20 lines, "+N more"', () => {
    const parts = Array.from({ length: 43 }, (_, g) => ({
      groupKey: `g${g}`,
      firing: Array.from({ length: g < 3 ? 50 : 1 }, (_, i) =>
        alert(`${g}-${i}`, { alertname: `Alert${g}` }),
      ),
      resolved: [],
    }));
    const d = buildDigest({ receiver: 'slack-ops', parts, externalUrl: 'x', host: 'h', now: T });
    expect(d.firingCount).toBe(190);
    expect(d.digest!.groups).toBe(43);
    expect(d.digest!.lines).toHaveLength(20);
    expect(d.digest!.more).toBe(23);
    expect(d.digest!.lines.slice(0, 3).map((l) => l.firing)).toEqual([50, 50, 50]);
  });

  it("a newer notification carries an older unsent one's resolutions", () => {
    const older = content([], [alert('a', { status: 'resolved' })]);
    const newer = content([alert('b')]);
    const merged = carryResolved(newer, older, 20);
    expect(merged.resolved).toEqual([['a', 1]]);
    expect(merged.alerts.map((a) => [a.fingerprint, a.status])).toEqual([
      ['b', 'firing'],
      ['a', 'resolved'],
    ]);
    expect(carryResolved(content([alert('a', { episode: 2 })]), older, 20).resolved).toEqual([]);
  });
});
