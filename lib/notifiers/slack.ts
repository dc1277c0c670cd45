// Slack incoming webhooks through @slack/webhook. The webhook URL is the credential: it is only revealed to
// build the client, and every error text is redacted against it. The library's fetch is wrapped to see the
// response headers (Retry-After) and to abort on our signal (timeout, shutdown).
import { IncomingWebhook, IncomingWebhookHTTPError, type FetchFunction } from '@slack/webhook';
import type { Clock } from '../clock.js';
import type { SlackReceiverConfig } from '../config/sections/alert-dispatcher-receivers.js';
import type { Secret } from '../secret.js';
import { describeFailure, redactSecrets } from './redact.js';
import { renderSlack } from './render-slack.js';
import { classifyHttpStatus, classifyTransportError } from './retry.js';
import type { DeliveryOutcome, Notifier, OutgoingNotification } from './types.js';

export function slackNotifier(cfg: SlackReceiverConfig, url: Secret, clock: Clock): Notifier {
  const secrets = [url];
  return {
    name: cfg.name,
    type: 'slack',
    target: new URL(url.reveal()).host,
    timeoutMs: cfg.timeoutMs,
    async notify(n: OutgoingNotification, signal: AbortSignal): Promise<DeliveryOutcome> {
      let headers: { get(name: string): string | null } | undefined;
      const fetchFn: FetchFunction = async (u, init) => {
        const res = await fetch(u, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
        });
        headers = res.headers;
        return res;
      };
      const hook = new IncomingWebhook(url.reveal(), { fetch: fetchFn, timeout: 0 });
      try {
        await hook.send(
          renderSlack(n.content, { username: cfg.username, iconEmoji: cfg.iconEmoji }, n.plainText),
        );
        return { ok: true, httpStatus: 200 };
      } catch (e) {
        if (e instanceof IncomingWebhookHTTPError) {
          const error = redactSecrets(
            `Slack answered ${e.statusCode}: ${String(e.body).slice(0, 200)}`,
            secrets,
          );
          const f = classifyHttpStatus(e.statusCode, {
            retryAfter: headers?.get('retry-after'),
            now: clock.now(),
            error,
          });
          // 400 invalid_payload is usually our own blocks: once more as plain text, then give up.
          if (e.statusCode === 400) f.disposition = n.plainText ? 'permanent' : 'plain_text';
          return { ok: false, failure: f };
        }
        return { ok: false, failure: classifyTransportError(e, describeFailure(e, secrets)) };
      }
    },
    close: async () => undefined,
  };
}
