// Generic webhooks: Alertmanager v4 JSON, the same Idempotency-Key on every retry, an HMAC-SHA256 signature
// of the body and a bearer token; 500 retried, 404 dead; the legacy format for old consumers.
import { describe, expect, it } from 'vitest';
import { signBody } from '../../../lib/notifiers/webhook.js';
import { advance, outbox, raise, resolve, scope, waitFor, type Running } from './harness.js';

const t = scope('contimg-ad-hook-');
let r: Running | undefined;

describe('webhook delivery', () => {
  it('v4 body, idempotency key kept across retries, signature and token; resolved message; 404 dead', async () => {
    const hook = await t.http();
    r = await t.start({
      groupWaitS: 0,
      groupIntervalS: 10,
      receivers: [
        {
          name: 'hook',
          type: 'webhook',
          url: `${hook.url}?k=1`,
          token: 'tok-123',
          hmacSecret: 'hmac-key',
          timeoutMs: 400,
        },
        { name: 'legacy', type: 'webhook', url: `http://127.0.0.1:${hook.port}/legacy`, format: 'legacy' },
      ],
      routes: [{ matchers: ['alertname="Old"'], receivers: ['legacy'] }, { receivers: ['hook'] }],
    });
    hook.script = [{ status: 500, body: 'busy' }];
    raise(r, 'CalibrationStale', { set: 'a' }, 'critical');
    await waitFor(() => outbox(r!)[0]?.state === 'retry_wait', { what: 'first try failed' });
    await advance(r, 6100);
    await waitFor(() => hook.delivered.length === 1, { what: 'delivered on retry' }).catch((e: unknown) => {
      throw new Error(
        `${String(e)}\n${JSON.stringify(outbox(r!))}\n${r!.logs.filter((l) => !l.includes('"level":"info"')).join('')}`,
      );
    });
    const [first, second] = hook.requests;
    expect(first.headers['idempotency-key']).toBe(second.headers['idempotency-key']);
    expect(first.headers['idempotency-key']).toBe(outbox(r)[0].dedup_key);
    expect(second.headers.authorization).toBe('Bearer tok-123');
    expect(second.headers['x-contimg-signature']).toBe(signBody(second.raw, 'hmac-key'));
    expect(second.headers['x-contimg-notification-id']).toBe(String(outbox(r)[0].id));
    expect(second.json).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'hook',
      groupLabels: { alertname: 'CalibrationStale' },
      alerts: [
        {
          status: 'firing',
          endsAt: '0001-01-01T00:00:00Z',
          labels: { alertname: 'CalibrationStale', set: 'a' },
        },
      ],
    });
    resolve(r, 'CalibrationStale', { set: 'a' });
    await advance(r, 10_100);
    await waitFor(() => hook.delivered.length === 2, { what: 'resolved' });
    expect(hook.delivered[1].json).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved' }] });

    hook.script = [{ status: 404, body: 'gone' }];
    raise(r, 'Old', {}, 'warning');
    await waitFor(() => outbox(r!, "receiver = 'legacy'")[0]?.state === 'dead', { what: 'dead on 404' });
    const legacy = hook.requests[hook.requests.length - 1];
    expect(legacy.path).toBe('/legacy');
    expect(Object.keys(legacy.json).sort()).toEqual(['message', 'severity', 'source', 'timestamp', 'title']);
    expect(legacy.headers.authorization).toBeUndefined();
  });
});
