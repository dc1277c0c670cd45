// The one interface every channel implements (Alertmanager's Notifier): notify(notification, signal) sends one
// message and says how it went. It never throws: failures come back classified (what happened, and whether a
// retry can help), with an error text already redacted and short.
import type { ReceiverType } from '../config/sections/alert-dispatcher-receivers.js';
import type { Kind, NotificationContent } from './content.js';

/** Closed set of attempt results (the delivery_attempts.result column and a metric label). */
export const ATTEMPT_RESULTS = [
  'ok',
  'http_4xx',
  'http_429',
  'http_5xx',
  'timeout',
  'network',
  'smtp_4xx',
  'smtp_5xx',
  'crashed',
  'error',
] as const;
export type AttemptResult = (typeof ATTEMPT_RESULTS)[number];

/**
 * retry: back off and try again; retry_after: the receiver said when (429); permanent: retrying cannot help
 * (dead at once); plain_text: the receiver rejected our formatting, try once more as plain text.
 */
export type Disposition = 'retry' | 'retry_after' | 'permanent' | 'plain_text';

export interface DeliveryFailure {
  result: Exclude<AttemptResult, 'ok'>;
  disposition: Disposition;
  /** From Retry-After (seconds or an HTTP date), relative to the moment the answer came. */
  retryAfterMs?: number;
  httpStatus?: number;
  smtpCode?: number;
  /** Redacted, at most 500 characters. */
  error: string;
}

export type DeliveryOutcome =
  { ok: true; httpStatus?: number; smtpCode?: number } | { ok: false; failure: DeliveryFailure };

export interface OutgoingNotification {
  id: number;
  dedupKey: string;
  receiver: string;
  kind: Kind;
  content: NotificationContent;
  /** 1 for the first attempt. */
  attempt: number;
  /** Deterministic per notification (retries reuse it): `<…@…>`. */
  messageId: string;
  /** Render text only: the previous attempt's formatted payload was rejected. */
  plainText: boolean;
}

export interface Notifier {
  readonly name: string;
  readonly type: ReceiverType;
  /** Where it sends, safe to show: a URL's host, the SMTP host and recipients. Never a secret. */
  readonly target: string;
  /** The longest one attempt may take before the dispatcher aborts it. */
  readonly timeoutMs: number;
  notify(n: OutgoingNotification, signal: AbortSignal): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}
