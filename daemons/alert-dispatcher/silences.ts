// Silences: matchers with a time window, an author and a comment, created and expired through the API or
// `contimg silences`. Validation (at least one matcher that does not match everything, end after start, at
// most silence.maxDurationDays) lives here so both surfaces refuse the same things. Joins the caller's
// transaction.
import crypto from 'node:crypto';
import { cachedStatement, type Connection } from '../../lib/db/index.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import {
  compileMatcher,
  formatMatcher,
  MATCH_OPS,
  parseMatchers,
  type Matcher,
  type MatchOp,
} from '../../lib/matchers/index.js';

export interface SilenceRow {
  id: string;
  matchers: string[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  createdAt: number;
  expiredAt: number | null;
  state: 'pending' | 'active' | 'expired';
}

export interface SilenceInput {
  /** Matcher strings (`alertname="X"`, or a braced list), or objects {name, op, value} / Alertmanager's
   * {name, value, isRegex, isEqual}. */
  matchers: unknown;
  startsAt?: number;
  endsAt?: number;
  durationMs?: number;
  createdBy?: unknown;
  comment?: unknown;
}

function matcherFrom(x: unknown, i: number): Matcher[] {
  if (typeof x === 'string') return parseMatchers(x);
  if (x && typeof x === 'object') {
    const o = x as { name?: unknown; op?: unknown; value?: unknown; isRegex?: unknown; isEqual?: unknown };
    if (typeof o.name !== 'string' || typeof o.value !== 'string')
      throw new ValidationError(`matchers[${i}]: expected name and value strings`, { index: i });
    let op: MatchOp;
    if (typeof o.op === 'string') {
      if (!MATCH_OPS.includes(o.op as MatchOp))
        throw new ValidationError(`matchers[${i}].op: expected one of ${MATCH_OPS.join(' ')}`);
      op = o.op as MatchOp;
    } else {
      const eq = o.isEqual !== false;
      op = o.isRegex === true ? (eq ? '=~' : '!~') : eq ? '=' : '!=';
    }
    const m = { name: o.name, op, value: o.value };
    compileMatcher(m);
    return [m];
  }
  throw new ValidationError(`matchers[${i}]: expected a matcher string or object`, { index: i });
}

/** Parse and check a silence request; throws ValidationError (400) naming the problem. */
export function validateSilence(
  input: SilenceInput,
  p: { now: number; maxDurationMs: number },
): { matchers: Matcher[]; startsAt: number; endsAt: number; createdBy: string; comment: string } {
  if (!Array.isArray(input.matchers) || input.matchers.length === 0)
    throw new ValidationError('matchers: at least one matcher is required');
  const matchers = input.matchers.flatMap((m, i) => matcherFrom(m, i));
  if (matchers.length === 0) throw new ValidationError('matchers: at least one matcher is required');
  if (matchers.every((m) => compileMatcher(m).matches({})))
    throw new ValidationError(
      'matchers: at least one matcher must not match an empty label set (it would silence everything)',
    );
  const startsAt = input.startsAt ?? p.now;
  const endsAt = input.endsAt ?? (input.durationMs !== undefined ? startsAt + input.durationMs : NaN);
  if (!Number.isFinite(startsAt)) throw new ValidationError('startsAt: expected a time');
  if (!Number.isFinite(endsAt)) throw new ValidationError('endsAt: give endsAt or a duration');
  if (endsAt <= startsAt) throw new ValidationError('endsAt: must be after startsAt');
  if (endsAt <= p.now) throw new ValidationError('endsAt: the silence would already be over');
  if (endsAt - startsAt > p.maxDurationMs)
    throw new ValidationError(
      `duration: at most ${Math.round(p.maxDurationMs / 86_400_000)} days (silence.maxDurationDays)`,
    );
  const createdBy = typeof input.createdBy === 'string' ? input.createdBy.trim() : '';
  if (!createdBy) throw new ValidationError('createdBy: required (who is silencing)');
  const comment = typeof input.comment === 'string' ? input.comment.trim() : '';
  if (!comment) throw new ValidationError('comment: required (why)');
  return { matchers, startsAt, endsAt, createdBy, comment };
}

interface RawSilence {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  created_by: string;
  comment: string;
  created_at: number;
  expired_at: number | null;
}

function stateOf(r: RawSilence, now: number): SilenceRow['state'] {
  if (r.expired_at !== null || r.ends_at <= now) return 'expired';
  return r.starts_at > now ? 'pending' : 'active';
}

export function matchersOf(r: { matchers: string }): Matcher[] {
  return JSON.parse(r.matchers) as Matcher[];
}

function toRow(r: RawSilence, now: number): SilenceRow {
  return {
    id: r.id,
    matchers: matchersOf(r).map(formatMatcher),
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    createdBy: r.created_by,
    comment: r.comment,
    createdAt: r.created_at,
    expiredAt: r.expired_at,
    state: stateOf(r, now),
  };
}

export function createSilence(
  conn: Connection,
  input: SilenceInput,
  p: { now: number; maxDurationMs: number },
): SilenceRow {
  const s = validateSilence(input, p);
  const id = crypto.randomUUID();
  cachedStatement(
    conn,
    `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, JSON.stringify(s.matchers), s.startsAt, s.endsAt, s.createdBy, s.comment, p.now, p.now);
  return getSilence(conn, id, p.now)!;
}

export function getSilence(conn: Connection, id: string, now: number): SilenceRow | undefined {
  const r = cachedStatement(conn, 'SELECT * FROM silences WHERE id = ?').get(id) as RawSilence | undefined;
  return r ? toRow(r, now) : undefined;
}

export function listSilences(
  conn: Connection,
  now: number,
  filter: { state?: SilenceRow['state'] } = {},
): SilenceRow[] {
  const rows = (
    cachedStatement(conn, 'SELECT * FROM silences ORDER BY created_at DESC, id').all() as RawSilence[]
  ).map((r) => toRow(r, now));
  return filter.state ? rows.filter((r) => r.state === filter.state) : rows;
}

/** Silences in force now or later (the dispatcher compiles these each tick). */
export function unexpiredSilences(
  conn: Connection,
  now: number,
): { id: string; matchers: Matcher[]; startsAt: number; endsAt: number }[] {
  return (
    cachedStatement(conn, 'SELECT * FROM silences WHERE expired_at IS NULL AND ends_at > ?').all(
      now,
    ) as RawSilence[]
  ).map((r) => ({ id: r.id, matchers: matchersOf(r), startsAt: r.starts_at, endsAt: r.ends_at }));
}

/** End a silence now; NotFoundError (404) for an unknown id. Expiring an expired silence changes nothing. */
export function expireSilence(conn: Connection, id: string, now: number): SilenceRow {
  const before = getSilence(conn, id, now);
  if (!before) throw new NotFoundError(`no silence ${id}`, { id });
  if (before.state !== 'expired')
    cachedStatement(conn, 'UPDATE silences SET expired_at = ?, updated_at = ? WHERE id = ?').run(
      now,
      now,
      id,
    );
  return getSilence(conn, id, now)!;
}
