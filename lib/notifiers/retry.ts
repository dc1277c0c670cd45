// The shared retry classification of every channel (Alertmanager's notify/util.go Retrier): an HTTP status or a
// transport error becomes an attempt result and a disposition. One place, so Slack, webhooks and e-mail agree.
import type { DeliveryFailure, Disposition } from './types.js';

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * An HTTP answer that is not 2xx: 429 waits for Retry-After; 408 and 5xx are worth retrying; any other 4xx is
 * permanent (the request itself is wrong: a revoked URL, a bad token), except what the channel overrides.
 */
export function classifyHttpStatus(
  status: number,
  opts: { retryAfter?: string | null; now: number; error: string },
): DeliveryFailure {
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(opts.retryAfter, opts.now);
    return {
      result: 'http_429',
      disposition: 'retry_after',
      httpStatus: status,
      error: opts.error,
      ...(retryAfterMs !== undefined && { retryAfterMs }),
    };
  }
  const disposition: Disposition = status >= 500 || status === 408 ? 'retry' : 'permanent';
  return {
    result: status >= 500 ? 'http_5xx' : 'http_4xx',
    disposition,
    httpStatus: status,
    error: opts.error,
  };
}

function isTimeout(err: unknown): boolean {
  for (
    let e = err as { name?: unknown; code?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 5;
    i++
  ) {
    if (
      e.name === 'TimeoutError' ||
      e.name === 'AbortError' ||
      e.code === 'ETIMEDOUT' ||
      e.code === 'UND_ERR_CONNECT_TIMEOUT'
    )
      return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** No answer at all: a timeout or a network failure, both retried. */
export function classifyTransportError(err: unknown, error: string): DeliveryFailure {
  return { result: isTimeout(err) ? 'timeout' : 'network', disposition: 'retry', error };
}

/**
 * SMTP: a 4xx reply is temporary (greylisting, a full queue), a 5xx reply permanent (535 bad credentials, 550
 * no such mailbox); no reply at all is a timeout or a network failure.
 */
export function classifySmtpError(err: unknown, error: string): DeliveryFailure {
  const e = err as { responseCode?: unknown; code?: unknown } | null;
  const code = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  if (code !== undefined && code >= 500)
    return { result: 'smtp_5xx', disposition: 'permanent', smtpCode: code, error };
  if (code !== undefined && code >= 400)
    return { result: 'smtp_4xx', disposition: 'retry', smtpCode: code, error };
  return classifyTransportError(err, error);
}
