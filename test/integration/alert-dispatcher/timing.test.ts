// Work that falls due between two looks is done when it is due, not at the next look: a group wait ending
// between dispatch ticks flushes when it ends; a retry's backoff ending between delivery polls is claimed when
// it ends; a notification another process (here: another connection, as `contimg receivers test` has) queues
// is claimed within the commit check, not at the next poll. Ticks and polls are 60 s here, so each test fails
// on a loop that only looks at its interval.
import { describe, expect, it } from 'vitest';
import { enqueueTest } from '../../../daemons/alert-dispatcher/admin.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
import { advance, attempts, outbox, scope, waitFor, type Running } from './harness.js';
import type { HttpPeer } from './peers.js';

const t = scope('contimg-ad-timing-');
let r: Running;
let slack: HttpPeer;
const LONG_MS = 60_000;

async function start(extra: Record<string, unknown> = {}): Promise<Running> {
  slack = await t.http();
  r = await t.start({
    tickMs: LONG_MS,
    delivery: { pollMs: LONG_MS },
    groupWaitS: 1,
    groupIntervalS: 600,
    receivers: [{ name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } }],
    ...extra,
  });
  return r;
}

describe('on-time looks', () => {
  it('a group wait that ends between two ticks flushes when it ends', async () => {
    await start();
    // The intake wakes the dispatch loop, which sees the alert and its group wait (1 s) at once.
    const res = await fetch(`${r.base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: { alertname: 'OnTime', severity: 'warning' },
          annotations: { summary: 'due between ticks' },
          startsAt: new Date(r.clock.now()).toISOString(),
          endsAt: new Date(r.clock.now() + 600_000).toISOString(),
        },
      ]),
    });
    expect(res.status).toBe(200);
    await waitFor(
      () => r.daemon.deps.state.read((c) => c.prepare('SELECT 1 FROM alerts').get()) !== undefined,
      {
        what: 'the alert stored',
      },
    );
    expect(outbox(r)).toHaveLength(0);
    await advance(r, 1000);
    await waitFor(() => slack.delivered.length === 1, { what: 'the flush at the end of group wait' });
  });

  it("a retry's backoff that ends between two polls is claimed when it ends", async () => {
    await start({ groupWaitS: 0, retry: { initialDelayS: 1, jitter: 0 } });
    slack.script = [{ status: 500 }];
    const res = await fetch(`${r.base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname: 'Retried', severity: 'warning' } }]),
    });
    expect(res.status).toBe(200);
    await waitFor(() => attempts(r)[0]?.result === 'http_5xx', { what: 'the failed first attempt' });
    expect(outbox(r)[0].state).toBe('retry_wait');
    await advance(r, 1000);
    await waitFor(() => slack.delivered.length === 1, { what: 'the retry, 1 s later' });
    // The peer has the message before the daemon has read its answer and recorded the attempt.
    await waitFor(() => attempts(r)[1]?.result != null, { what: 'the retry recorded' });
    expect(attempts(r).map((a) => a.result)).toEqual(['http_5xx', 'ok']);
  });

  it('a notification queued by another connection is claimed at once, not at the next poll', async () => {
    await start();
    const cfg = r.daemon.deps.config.alertDispatcher;
    const { id } = r.db.write((c) =>
      enqueueTest(
        c,
        'slack-ops',
        { cfg, by: 'test', host: 'h', externalUrl: 'http://127.0.0.1' },
        {
          queue: new SqliteQueueStore(r.db),
          maxAttempts: cfg.retry.maxAttempts,
          maxAlerts: cfg.maxAlertsPerMessage,
          now: r.clock.now(),
        },
      ),
    );
    await waitFor(() => outbox(r).find((n) => n.id === id)?.state === 'sent', {
      what: 'the test message sent',
    });
    expect(String(slack.delivered[0].json.text)).toContain('[TEST]');
  });
});
