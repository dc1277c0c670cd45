// Redaction of channel error texts before they reach a log line, a stored row or an API answer. Known secret
// values (a Slack URL, an SMTP password, a webhook token or HMAC key, and their URL-encoded forms) are
// replaced, every URL is cut to scheme://host/…, and the text is capped at 500 characters.
// TODO(lead): switch redactSecrets over to the hardening branch's lib redaction helper when it lands; every
// channel calls it only through describeFailure() and redactSecrets() below.
import type { Secret } from '../secret.js';

export const MAX_ERROR_CHARS = 500;
const MARK = '[redacted]';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replace every occurrence of each secret (as given, URL-encoded, and as base64) and shorten every URL. */
export function redactSecrets(text: string, secrets: readonly (string | Secret | undefined)[]): string {
  let out = text;
  const values = secrets
    .map((s) => (s === undefined ? '' : typeof s === 'string' ? s : s.reveal()))
    .filter((s) => s.length >= 4);
  for (const v of values) {
    for (const form of new Set([v, encodeURIComponent(v), Buffer.from(v).toString('base64')]))
      out = out.replace(new RegExp(escapeRe(form), 'g'), MARK);
  }
  // A URL's path and query can carry a token (Slack's webhook path is one): keep scheme and host only.
  out = out.replace(/\b(https?:\/\/[^/\s"'<>]+)\/[^\s"'<>]*/gi, '$1/…');
  return out.length > MAX_ERROR_CHARS ? `${out.slice(0, MAX_ERROR_CHARS - 1)}…` : out;
}

/** `Name: message` of any thrown value (code when present), redacted and short; never a stack. */
export function describeFailure(err: unknown, secrets: readonly (string | Secret | undefined)[]): string {
  const e = err as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' ? ` [${e.code}]` : '';
  const cause = e?.cause as { message?: unknown; code?: unknown } | undefined;
  const why =
    cause && typeof cause.message === 'string'
      ? ` (${typeof cause.code === 'string' ? `${cause.code}: ` : ''}${cause.message})`
      : '';
  return redactSecrets(`${name}${code}: ${message}${why}`, secrets);
}
