// Redaction of channel error texts before they reach a log line, a stored row or an API answer: the one
// redaction helper (lib/redact's SecretScrubber: the receiver's known secrets in every spelling, a URL's path
// and long segments, bearer tokens and query tokens), plus the base64 form of each secret (Basic auth) and
// every remaining URL cut to scheme://host/…, capped at 500 characters.
import { SecretScrubber } from '../redact.js';
import type { Secret } from '../secret.js';

export const MAX_ERROR_CHARS = 500;

/** Replace every occurrence of each secret (as given, URL-encoded, base64) and shorten every URL. */
export function redactSecrets(text: string, secrets: readonly (string | Secret | undefined)[]): string {
  const values = secrets
    .map((s) => (s === undefined ? '' : typeof s === 'string' ? s : s.reveal()))
    .filter((v) => v.length > 0);
  const scrubber = new SecretScrubber([...values, ...values.map((v) => Buffer.from(v).toString('base64'))]);
  // A URL's path and query can carry a token (Slack's webhook path is one): keep scheme and host only.
  const out = scrubber.scrub(text).replace(/\b(https?:\/\/[^/\s"'<>]+)\/[^\s"'<>]*/gi, '$1/…');
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
