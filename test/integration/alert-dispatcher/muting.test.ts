// Silences and inhibition: a silenced alert delivers nothing (muted, counted), others do; after the silence
// expires a still-firing alert notifies at the next group interval; an alert announced before a silence and
// resolved during it still gets its resolved message; bad silences are refused with 400. Inhibition: the
// unit alert mutes the endpoint alert until the unit recovers.
import { describe, expect, it } from 'vitest';
import {
  advance,
  metricsText,
  metricValue,
  raise,
  resolve,
  scope,
  waitFor,
  type Running,
} from './harness.js';
import type { HttpPeer } from './peers.js';

const t = scope('contimg-ad-mute-');
let r: Running | undefined;
let slack: HttpPeer;

const titles = () => slack.delivered.map((q) => String(q.json.text));

async function start(extra: Record<string, unknown> = {}): Promise<Running> {
  slack = await t.http();
  r = await t.start({
    groupWaitS: 30,
    groupIntervalS: 300,
    receivers: [{ name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } }],
    ...extra,
  });
  return r;
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${r!.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('silences', () => {
  it('mute matching alerts, end on time, and never swallow a resolution', async () => {
    await start();
    raise(r!, 'CalibrationStale', { set: 'x' }, 'critical');
    await advance(r!, 31_000);
    await waitFor(() => titles().length === 1, { what: 'CalibrationStale announced' });

    const res = await post('/api/silences', {
      matchers: ['alertname=~"SystemdUnitDown|CalibrationStale"'],
      durationS: 3600,
      createdBy: 'ops',
      comment: 'maintenance',
    });
    expect(res.status).toBe(200);
    const silence = (await res.json()) as { id: string; state: string };
    expect(silence.state).toBe('active');
    raise(r!, 'SystemdUnitDown', { unit: 'contimg-api.service' }, 'critical');
    raise(r!, 'DiskLow', { path: '/data' });
    resolve(r!, 'CalibrationStale', { set: 'x' });
    await advance(r!, 31_000);
    await waitFor(() => titles().length === 2, { what: 'DiskLow delivered' });
    await advance(r!, 300_000, 60_000);
    await waitFor(() => titles().includes('[RESOLVED] CalibrationStale · critical'), {
      what: 'resolved while silenced',
    });
    expect(titles().some((t) => t.includes('SystemdUnitDown'))).toBe(false);
    // The gauges are refreshed once a second.
    await waitFor(
      async () => {
        const m = await metricsText(r!);
        return (
          metricValue(m, 'contimg_alerts_active', { severity: 'critical', state: 'muted' }) === 1 &&
          metricValue(m, 'contimg_alerts_silences_active', {}) === 1
        );
      },
      { what: 'muted and silence gauges' },
    );
    const api = (await (await fetch(`${r!.base}/api/alerts?status=firing`)).json()) as {
      alertname: string;
      state: string;
      silencedBy: string;
    }[];
    expect(api.find((a) => a.alertname === 'SystemdUnitDown')).toMatchObject({
      state: 'muted',
      silencedBy: silence.id,
    });

    // The silence ends: the still-firing alert is announced at the next group interval.
    await advance(r!, 3_300_000, 300_000);
    await waitFor(() => titles().some((t) => t.includes('SystemdUnitDown')), {
      what: 'announced after the silence',
    });
    expect(titles().filter((t) => t.includes('SystemdUnitDown'))).toEqual([
      '[FIRING:1] SystemdUnitDown · critical',
    ]);
  });

  it('refuses invalid silences with 400 and a reason', async () => {
    await start();
    const cases: [unknown, string][] = [
      [
        {
          matchers: ['a="b"'],
          startsAt: Date.UTC(2026, 0, 15, 13),
          endsAt: Date.UTC(2026, 0, 15, 12, 30),
          createdBy: 'x',
          comment: 'y',
        },
        'endsAt',
      ],
      [{ matchers: ['a=~"("'], durationS: 60, createdBy: 'x', comment: 'y' }, 'invalid regular expression'],
      [{ matchers: [], durationS: 60, createdBy: 'x', comment: 'y' }, 'at least one matcher'],
      [{ matchers: ['a=~".*"'], durationS: 60, createdBy: 'x', comment: 'y' }, 'empty label set'],
      [{ matchers: ['a="b"'], durationS: 15 * 86_400, createdBy: 'x', comment: 'y' }, 'at most 14 days'],
      [{ matchers: ['a="b"'], durationS: 60, createdBy: 'x' }, 'comment'],
    ];
    for (const [body, why] of cases) {
      const res = await post('/api/silences', body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain(why);
    }
    const ok = (await (
      await post('/api/silences', {
        matchers: [{ name: 'alertname', value: 'X', isRegex: false }],
        durationS: 60,
        createdBy: 'x',
        comment: 'y',
      })
    ).json()) as { id: string };
    const del = await fetch(`${r!.base}/api/silences/${ok.id}`, { method: 'DELETE' });
    expect(((await del.json()) as { state: string }).state).toBe('expired');
    expect((await fetch(`${r!.base}/api/silences/nope`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('inhibition', () => {
  it('the unit alert mutes the endpoint alert; when the unit recovers the endpoint alert goes out within one group interval', async () => {
    await start({
      inhibit: [
        {
          source: ['alertname="SystemdUnitDown"', 'unit="contimg-api.service"'],
          target: ['alertname="HttpEndpointDown"', 'endpoint="api"'],
          equal: ['host'],
        },
      ],
    });
    raise(r!, 'SystemdUnitDown', { unit: 'contimg-api.service', host: 'h1' }, 'critical');
    raise(r!, 'HttpEndpointDown', { endpoint: 'api', host: 'h1' }, 'critical');
    await advance(r!, 31_000);
    await waitFor(() => titles().length === 1, { what: 'the unit alert' });
    await advance(r!, 60_000);
    expect(titles()).toEqual(['[FIRING:1] SystemdUnitDown · critical']);
    resolve(r!, 'SystemdUnitDown', { unit: 'contimg-api.service', host: 'h1' });
    await advance(r!, 240_000, 60_000);
    await waitFor(
      () =>
        titles().includes('[FIRING:1] HttpEndpointDown · critical') &&
        titles().includes('[RESOLVED] SystemdUnitDown · critical'),
      { what: 'endpoint alert and the unit resolution after the unit recovered' },
    );
  });
});
