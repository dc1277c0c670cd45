// Named leases with expiry and monotonic fencing tokens, in the `leases` table of the state database.
// A lease is held by (owner, token) until expires_at. The token rises by one every time the lease changes
// hands (or is re-taken after expiring), so a writer that checks its token inside its own transaction
// (assertLeaseHeld) can never act on a lease that someone else has since taken: that is fencing.
import crypto from 'node:crypto';
import os from 'node:os';
import { kill as processKill, pid } from 'node:process';
import { systemClock, type Clock } from '../clock.js';
import type { Connection, Db, Statement } from '../db/index.js';
import { isRetryable, LeaseLostError, ValidationError } from '../errors.js';
import type { Logger } from '../log.js';

export interface LeaseRow {
  name: string;
  owner: string | null;
  token: number;
  expiresAt: number;
  acquiredAt: number | null;
  host: string | null;
  pid: number | null;
}

export interface LeaseMeta {
  host?: string;
  pid?: number;
}

interface Stmts {
  acquire: Statement<[Record<string, unknown>], { token: number }>;
  renew: Statement<[Record<string, unknown>]>;
  release: Statement<[Record<string, unknown>]>;
  get: Statement<[string], Record<string, unknown>>;
}

const cache = new WeakMap<Connection, Stmts>();
function stmts(conn: Connection): Stmts {
  let s = cache.get(conn);
  if (s) return s;
  // Same owner and still held: keep the token (idempotent re-acquire). Otherwise a new holder: token + 1.
  const held = 'leases.owner IS excluded.owner AND leases.expires_at > @now';
  s = {
    acquire: conn.prepare(
      `INSERT INTO leases (name, owner, token, expires_at, acquired_at, host, pid)
       VALUES (@name, @owner, 1, @expires, @now, @host, @pid)
       ON CONFLICT (name) DO UPDATE SET
         token = CASE WHEN ${held} THEN leases.token ELSE leases.token + 1 END,
         acquired_at = CASE WHEN ${held} THEN leases.acquired_at ELSE excluded.acquired_at END,
         owner = excluded.owner, expires_at = excluded.expires_at, host = excluded.host, pid = excluded.pid
       WHERE leases.expires_at <= @now OR leases.owner IS NULL OR leases.owner = excluded.owner
       RETURNING token`,
    ),
    renew: conn.prepare(
      `UPDATE leases SET expires_at = @expires
       WHERE name = @name AND owner = @owner AND token = @token AND expires_at > @now`,
    ),
    // The token stays: the next holder gets token + 1, so numbers never repeat.
    release: conn.prepare(
      `UPDATE leases SET owner = NULL, expires_at = 0, host = NULL, pid = NULL
       WHERE name = @name AND owner = @owner AND token = @token`,
    ),
    get: conn.prepare('SELECT * FROM leases WHERE name = ?'),
  };
  cache.set(conn, s);
  return s;
}

/**
 * The one lease-owner id format: `<host>:<pid>:<component>:<6 hex>`. Host and pid come first so recovery can
 * tell whether a holder on this host is still alive; the random part keeps two holders in one process (tests,
 * two loops of one daemon) distinct.
 */
export function leaseOwner(component: string): string {
  return `${os.hostname()}:${pid}:${component}:${crypto.randomBytes(3).toString('hex')}`;
}

/**
 * Whether a lease owner id names a process on this host that no longer runs (so its lease can be taken at
 * once instead of after expiry). Another host's owner, or an id in another format, is never "dead" here.
 */
export function ownerDeadHere(owner: string | null): boolean {
  if (!owner) return false;
  const [host, pidText] = owner.split(':');
  const ownerPid = Number(pidText);
  if (host !== os.hostname() || !Number.isInteger(ownerPid)) return false;
  // Our own pid is alive by definition (one process may hold several owner ids); 0 and below are no process.
  // Stryker disable next-line EqualityOperator,ConditionalExpression: equivalent: kill 0 of pid 0 (our own process group) or of our own pid succeeds, so those are "alive" without these shortcuts too.
  if (ownerPid <= 0 || ownerPid === pid) return false;
  try {
    processKill(ownerPid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** One acquire attempt inside the caller's transaction: the token, or null while someone else holds it. */
function acquireIn(
  c: Connection,
  l: { name: string; owner: string; ttlMs: number; nowMs: number; meta?: LeaseMeta },
): number | null {
  const row = stmts(c).acquire.get({
    name: l.name,
    owner: l.owner,
    now: l.nowMs,
    expires: l.nowMs + l.ttlMs,
    host: l.meta?.host ?? os.hostname(),
    pid: l.meta?.pid ?? null,
  });
  return row ? row.token : null;
}

/**
 * Acquire inside the caller's transaction, first releasing the lease of a holder that is a dead process on
 * this host (SIGKILL, OOM), so a restarted daemon does not wait out its predecessor's lease.
 */
function acquireOrReclaimIn(
  c: Connection,
  l: { name: string; owner: string; ttlMs: number; nowMs: number; meta?: LeaseMeta },
  log?: Logger,
): number | null {
  const token = acquireIn(c, l);
  if (token !== null) return token;
  const held = getLease(c, l.name);
  if (!held || !ownerDeadHere(held.owner)) return null;
  stmts(c).release.run({ name: l.name, owner: held.owner, token: held.token });
  log?.warn(
    { lease: l.name, deadOwner: held.owner, token: held.token },
    'reclaimed the lease of a dead process',
  );
  return acquireIn(c, l);
}

/**
 * acquireLease, but a holder that is a dead process on this host is released first (one transaction).
 * Returns the token, or null while a live holder (or another host's) has it.
 */
export function acquireOrReclaimLease(
  db: Db,
  name: string,
  owner: string,
  ttlMs: number,
  nowMs: number,
  opts: { meta?: LeaseMeta; log?: Logger } = {},
): number | null {
  checkTtl(ttlMs);
  return db.write((c) => acquireOrReclaimIn(c, { name, owner, ttlMs, nowMs, meta: opts.meta }, opts.log));
}

/** acquireOrReclaimLease for async code: the lock wait yields (db.writeAsync) instead of blocking the loop. */
export async function acquireOrReclaimLeaseAsync(
  db: Db,
  name: string,
  owner: string,
  ttlMs: number,
  nowMs: number,
  opts: { meta?: LeaseMeta; log?: Logger; signal?: AbortSignal } = {},
): Promise<number | null> {
  checkTtl(ttlMs);
  return db.writeAsync(
    (c) => acquireOrReclaimIn(c, { name, owner, ttlMs, nowMs, meta: opts.meta }, opts.log),
    {
      signal: opts.signal,
    },
  );
}

/** releaseLease for async code; false (instead of LeaseLostError) when (owner, token) no longer hold it. */
export async function releaseLeaseAsync(
  db: Db,
  name: string,
  owner: string,
  token: number,
): Promise<boolean> {
  return (await db.writeAsync((c) => stmts(c).release.run({ name, owner, token }))).changes === 1;
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new ValidationError('lease ttlMs must be > 0', { ttlMs });
}

/** Take the lease if it is free, expired, or already ours. Returns the fencing token, or null if held. */
export function acquireLease(
  db: Db,
  name: string,
  owner: string,
  ttlMs: number,
  nowMs: number,
  meta: LeaseMeta = {},
): number | null {
  checkTtl(ttlMs);
  return db.write((c) => acquireIn(c, { name, owner, ttlMs, nowMs, meta }));
}

/** Extend a held lease to now + ttl. Throws LeaseLostError if it expired or someone else holds it. */
export function renewLease(
  db: Db,
  name: string,
  owner: string,
  token: number,
  ttlMs: number,
  nowMs: number,
): void {
  checkTtl(ttlMs);
  const { changes } = db.write((c) =>
    stmts(c).renew.run({ name, owner, token, now: nowMs, expires: nowMs + ttlMs }),
  );
  if (changes === 0)
    throw new LeaseLostError(`lease ${name} is no longer held by ${owner}`, { name, owner, token });
}

/**
 * renewLease for a heartbeat that can await: waits for the write lock without blocking the event loop (a lock
 * held by another process must not cost us the lease while we wait), for at most `budgetMs` (the ttl by
 * default: past it the lease has expired anyway). "Now" is read when the write runs, not when it was asked
 * for. Throws LeaseLostError if the lease expired or was taken, DbBusyError if the lock stayed busy.
 */
export async function renewLeaseAsync(
  db: Db,
  name: string,
  owner: string,
  token: number,
  ttlMs: number,
  opts: { clock?: Clock; signal?: AbortSignal; budgetMs?: number } = {},
): Promise<void> {
  checkTtl(ttlMs);
  const clock = opts.clock ?? systemClock;
  const { changes } = await db.writeAsync(
    (c) => {
      const now = clock.now();
      return stmts(c).renew.run({ name, owner, token, now, expires: now + ttlMs });
    },
    { budgetMs: opts.budgetMs ?? ttlMs, signal: opts.signal },
  );
  if (changes === 0)
    throw new LeaseLostError(`lease ${name} is no longer held by ${owner}`, { name, owner, token });
}

/** Give the lease up. Throws LeaseLostError if (owner, token) no longer hold it. */
export function releaseLease(db: Db, name: string, owner: string, token: number): void {
  const { changes } = db.write((c) => stmts(c).release.run({ name, owner, token }));
  if (changes === 0)
    throw new LeaseLostError(`lease ${name} is no longer held by ${owner}`, { name, owner, token });
}

export function getLease(conn: Connection, name: string): LeaseRow | undefined {
  const r = stmts(conn).get.get(name);
  if (!r) return undefined;
  return {
    name: r.name as string,
    owner: r.owner as string | null,
    token: r.token as number,
    expiresAt: r.expires_at as number,
    acquiredAt: r.acquired_at as number | null,
    host: r.host as string | null,
    pid: r.pid as number | null,
  };
}

/**
 * The fencing check: call inside your own db.write before acting under a lease. Throws LeaseLostError
 * (and so rolls the transaction back) unless `token` is still the current, unexpired token for `name`.
 */
export function assertLeaseHeld(conn: Connection, name: string, token: number, nowMs: number): void {
  const r = getLease(conn, name);
  if (!r || r.token !== token || r.owner === null || r.expiresAt <= nowMs)
    throw new LeaseLostError(`lease ${name} token ${token} is stale`, {
      name,
      token,
      current: r?.token ?? null,
    });
}

export interface WithLeaseOptions {
  clock?: Clock;
  /** Aborting this also aborts fn's signal; the lease is released afterwards. */
  signal?: AbortSignal;
  log?: Logger;
  meta?: LeaseMeta;
  /** How often to renew; ttl/3 by default, so two renewals can fail before the lease expires. */
  renewEveryMs?: number;
}

export type WithLeaseResult<T> = { acquired: false } | { acquired: true; token: number; value: T };

/**
 * Run fn while holding the lease: renew every ttl/3, and abort fn's signal (reason LeaseLostError) if a
 * renewal finds the lease gone. Returns `{acquired: false}` without calling fn when someone else holds it.
 * Releases the lease when fn settles. fn should stop promptly when its signal aborts. If the lease was lost,
 * withLease rejects with LeaseLostError even when fn resolved: found by a renewal, or by the release finding
 * another holder (fn blocked the event loop past the ttl, so no renewal ran in time).
 */
export async function withLease<T>(
  db: Db,
  name: string,
  owner: string,
  ttlMs: number,
  fn: (signal: AbortSignal, token: number) => Promise<T>,
  opts: WithLeaseOptions = {},
): Promise<WithLeaseResult<T>> {
  const clock = opts.clock ?? systemClock;
  const token = acquireLease(db, name, owner, ttlMs, clock.now(), opts.meta);
  if (token === null) return { acquired: false };
  const lost = new AbortController();
  const signal = opts.signal ? AbortSignal.any([lost.signal, opts.signal]) : lost.signal;
  // Renewals wait for the write lock asynchronously (see renewLeaseAsync); one at a time. Log lines name the
  // token `fencingToken`: the logger redacts any `token` field as a secret.
  const renewals = new AbortController();
  let renewing = false;
  const onRenewFailed = (e: unknown): void => {
    if (renewals.signal.aborted) return;
    // A busy database is retried at the next tick; a lost lease (not retryable) or any permanent error stops fn.
    if (isRetryable(e) && !(e instanceof LeaseLostError)) {
      opts.log?.warn(
        { err: e, lease: name, fencingToken: token },
        'lease renewal failed; retrying at the next tick',
      );
      return;
    }
    opts.log?.warn({ err: e, lease: name, fencingToken: token }, 'lease lost while running; aborting');
    clearInterval(timer);
    lost.abort(e instanceof LeaseLostError ? e : new LeaseLostError(`lease ${name} lost`, { name, token }));
  };
  const timer = setInterval(
    () => {
      if (renewing) return;
      renewing = true;
      renewLeaseAsync(db, name, owner, token, ttlMs, { clock, signal: renewals.signal })
        .catch(onRenewFailed)
        .finally(() => (renewing = false));
    },
    opts.renewEveryMs ?? Math.max(1, Math.floor(ttlMs / 3)),
  );
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await fn(signal, token) };
  } catch (error) {
    outcome = { ok: false, error };
  } finally {
    clearInterval(timer);
    renewals.abort();
  }
  let lostBy = lost.signal.aborted ? (lost.signal.reason as LeaseLostError) : undefined;
  if (!lostBy) {
    try {
      releaseLease(db, name, owner, token);
    } catch (e) {
      if (e instanceof LeaseLostError) {
        opts.log?.warn(
          { err: e, lease: name, fencingToken: token },
          'lease expired and was taken while running',
        );
        lostBy = e;
      } else
        opts.log?.warn({ err: e, lease: name, fencingToken: token }, 'lease release failed; it will expire');
    }
  }
  if (!outcome.ok) throw outcome.error;
  // fn finished after the lease was lost: its result was not protected, so the caller must know.
  if (lostBy) throw lostBy;
  return { acquired: true, token, value: outcome.value };
}
