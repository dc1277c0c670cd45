// Generic webhooks with plain fetch: Alertmanager v4 JSON by default, an Idempotency-Key (the dedup key, the
// same on every retry), the notification id, an optional bearer token and an optional HMAC-SHA256 signature of
// the body (X-Contimg-Signature: sha256=<hex>). URL, token and HMAC key are secrets.
import { createHmac } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { WebhookReceiverConfig } from '../config/sections/alert-dispatcher-receivers.js';
import type { Secret } from '../secret.js';
import { describeFailure, redactSecrets } from './redact.js';
import { alertmanagerV4, legacyWebhook } from './render-webhook.js';
import { classifyHttpStatus, classifyTransportError } from './retry.js';
import type { DeliveryOutcome, Notifier, OutgoingNotification } from './types.js';

export const SIGNATURE_HEADER = 'x-contimg-signature';

export function signBody(body: string, key: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

export function webhookNotifier(
  cfg: WebhookReceiverConfig,
  s: { url: Secret; token?: Secret; hmacSecret?: Secret },
  clock: Clock,
): Notifier {
  const secrets = [s.url, s.token, s.hmacSecret];
  return {
    name: cfg.name,
    type: 'webhook',
    target: new URL(s.url.reveal()).host,
    timeoutMs: cfg.timeoutMs,
    async notify(n: OutgoingNotification, signal: AbortSignal): Promise<DeliveryOutcome> {
      const body = JSON.stringify(
        cfg.format === 'legacy' ? legacyWebhook(n.content) : alertmanagerV4(n.content),
      );
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'contimg-alert-dispatcher',
        'idempotency-key': n.dedupKey,
        'x-contimg-notification-id': String(n.id),
      };
      if (s.token) headers.authorization = `Bearer ${s.token.reveal()}`;
      if (s.hmacSecret) headers[SIGNATURE_HEADER] = signBody(body, s.hmacSecret.reveal());
      try {
        const res = await fetch(s.url.reveal(), { method: 'POST', headers, body, signal, redirect: 'error' });
        const text = await res.text();
        if (res.ok) return { ok: true, httpStatus: res.status };
        const error = redactSecrets(`webhook answered ${res.status}: ${text.slice(0, 200)}`, secrets);
        return {
          ok: false,
          failure: classifyHttpStatus(res.status, {
            retryAfter: res.headers.get('retry-after'),
            now: clock.now(),
            error,
          }),
        };
      } catch (e) {
        return { ok: false, failure: classifyTransportError(e, describeFailure(e, secrets)) };
      }
    },
    close: async () => undefined,
  };
}
