// One parser for row limits and offsets, used by every JSON list route (`?limit=&offset=`) and every CLI
// `--limit`. Values are whole numbers in bounds; anything else is refused (HTTP 400, CLI usage error), never
// passed to SQL, where LIMIT -1 means "no limit".
import { ValidationError } from './errors.js';

/** The most rows one request or command returns. */
export const MAX_LIMIT = 10_000;
/** The largest offset accepted (deeper pages should filter instead). */
export const MAX_OFFSET = 1_000_000;

export interface Paging {
  limit: number;
  offset: number;
}

/** A whole number min..max written in plain decimal digits, or an error message naming `what`. */
export function parseCount(text: string, what: string, min: number, max: number): number | string {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(n) || n < min || n > max)
    return `${what}: expected a whole number from ${min} to ${max}, got "${text.slice(0, 40)}"`;
  return n;
}

/**
 * `limit` and `offset` from a request's query string: absent → defaultLimit and 0; present → validated
 * (limit 1..maxLimit, offset 0..MAX_OFFSET) or a ValidationError (400).
 */
export function pagingFrom(
  params: URLSearchParams,
  opts: { defaultLimit: number; maxLimit?: number },
): Paging {
  const get = (name: string, dflt: number, min: number, max: number): number => {
    const raw = params.get(name);
    if (raw === null) return dflt;
    const n = parseCount(raw, name, min, max);
    if (typeof n === 'string') throw new ValidationError(n, { parameter: name });
    return n;
  };
  return {
    limit: get('limit', opts.defaultLimit, 1, opts.maxLimit ?? MAX_LIMIT),
    offset: get('offset', 0, 0, MAX_OFFSET),
  };
}
