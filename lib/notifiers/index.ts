// Channel integrations for the alert dispatcher: one Notifier per receiver (Slack, e-mail, webhook, log), one
// shared retry classification (retry.ts), one redaction of error texts (redact.ts), and the renderers.
import type { Clock } from '../clock.js';
import type { ReceiverConfig } from '../config/sections/alert-dispatcher-receivers.js';
import type { Logger } from '../log.js';
import type { Secret } from '../secret.js';
import { emailNotifier } from './email.js';
import { logNotifier } from './log.js';
import { slackNotifier } from './slack.js';
import type { Notifier } from './types.js';
import { webhookNotifier } from './webhook.js';

export * from './types.js';
export { describeFailure, redactSecrets, MAX_ERROR_CHARS } from './redact.js';
export { classifyHttpStatus, classifySmtpError, classifyTransportError, parseRetryAfter } from './retry.js';

/** The secrets of one receiver, read from its config values or …File paths. */
export interface ReceiverSecrets {
  url?: Secret;
  password?: Secret;
  token?: Secret;
  hmacSecret?: Secret;
  /** PEM text of email smtp.caFile (not a secret). */
  ca?: string;
}

export function createNotifier(
  cfg: ReceiverConfig,
  s: ReceiverSecrets,
  deps: { clock: Clock; log: Logger },
): Notifier {
  switch (cfg.type) {
    case 'slack':
      return slackNotifier(cfg, s.url!, deps.clock);
    case 'webhook':
      return webhookNotifier(cfg, { url: s.url!, token: s.token, hmacSecret: s.hmacSecret }, deps.clock);
    case 'email':
      return emailNotifier(cfg, { password: s.password, ca: s.ca });
    case 'log':
      return logNotifier(cfg, deps.log);
  }
}
