import { spawn } from 'node:child_process';
import os from 'node:os';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, type Clock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/index.js';
import { DbBusyError, LeaseLostError, ValidationError } from '../../../lib/errors.js';
import {
  acquireLease,
  acquireOrReclaimLease,
  acquireOrReclaimLeaseAsync,
  assertLeaseHeld,
  getLease,
  leaseOwner,
  ownerDeadHere,
  releaseLease,
  releaseLeaseAsync,
  renewLease,
  renewLeaseAsync,
  withLease,
  type WithLeaseOptions,
} from '../../../lib/leases/index.js';
import { createCounter, openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { waitFor } from '../../helpers/wait.js';
import { captureLog } from '../../helpers/logs.js';
import { thrown } from '../../helpers/thrown.js';

let dir: string;
let file: string;
let db: Db;
const children: Forked<unknown>[] = [];
beforeEach(async () => {
  ({ dir, file, db } = await setUpStateDb());
});
afterEach(() => tearDownStateDb({ dir, db }, children));

/** What a log line says: its message, the lease, the fencing token (not redacted), and the error. */
const said = (msg: string, fencingToken: number) => ({
  msg,
  lease: 'job',
  fencingToken,
  err: expect.objectContaining({ message: expect.any(String) }),
});

describe('acquire / renew / release', () => {
  it('hands out monotonic fencing tokens and refuses a held lease', () => {
    expect(acquireLease(db, 'x', 'a', 1000, 0)).toBe(1);
    expect(acquireLease(db, 'x', 'b', 1000, 500)).toBeNull();
    // Re-acquiring while held keeps the token (idempotent) and extends the expiry.
    expect(acquireLease(db, 'x', 'a', 1000, 600)).toBe(1);
    expect(db.read((c) => getLease(c, 'x'))).toMatchObject({
      owner: 'a',
      token: 1,
      expiresAt: 1600,
      acquiredAt: 0,
    });
    // Expired: someone else takes it with a higher token.
    expect(acquireLease(db, 'x', 'b', 1000, 1600)).toBe(2);
    expect(() => renewLease(db, 'x', 'a', 1, 1000, 1700)).toThrow(LeaseLostError);
    expect(() => releaseLease(db, 'x', 'a', 1)).toThrow(LeaseLostError);
    renewLease(db, 'x', 'b', 2, 1000, 2000);
    expect(db.read((c) => getLease(c, 'x'))?.expiresAt).toBe(3000);
    releaseLease(db, 'x', 'b', 2);
    expect(db.read((c) => getLease(c, 'x'))).toMatchObject({ owner: null, token: 2, expiresAt: 0 });
    // Released: free for anyone at once, and the number still rises.
    expect(acquireLease(db, 'x', 'a', 1000, 2001)).toBe(3);
  });

  it('refuses a ttl that is not a positive finite number, saying which', () => {
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      for (const op of [() => acquireLease(db, 'x', 'a', ttl, 0), () => renewLease(db, 'x', 'a', 1, ttl, 0)])
        expect(thrown(op)).toMatchObject({
          constructor: ValidationError,
          message: 'lease ttlMs must be > 0',
          details: { ttlMs: ttl },
        });
    }
    expect(db.read((c) => getLease(c, 'x'))).toBeUndefined();
    expect(acquireLease(db, 'x', 'a', 0.5, 0)).toBe(1);
  });

  it('records the holder: this host and no pid unless given', () => {
    acquireLease(db, 'x', 'a', 1000, 0);
    expect(db.read((c) => getLease(c, 'x'))).toMatchObject({ host: os.hostname(), pid: null });
    acquireLease(db, 'y', 'a', 1000, 0, { host: 'node7', pid: 4242 });
    expect(db.read((c) => getLease(c, 'y'))).toMatchObject({ host: 'node7', pid: 4242 });
  });

  it('a lost lease error names the lease, the owner and the token', () => {
    acquireLease(db, 'x', 'a', 1000, 0);
    acquireLease(db, 'x', 'b', 1000, 1000);
    const details = { name: 'x', owner: 'a', token: 1 };
    expect(thrown(() => renewLease(db, 'x', 'a', 1, 1000, 1500))).toMatchObject({
      constructor: LeaseLostError,
      message: 'lease x is no longer held by a',
      details,
    });
    expect(thrown(() => releaseLease(db, 'x', 'a', 1))).toMatchObject({
      constructor: LeaseLostError,
      message: 'lease x is no longer held by a',
      details,
    });
  });

  it('a lease without an owner is free and never held, whatever its expiry says', () => {
    db.conn
      .prepare("INSERT INTO leases (name, owner, token, expires_at) VALUES ('x', NULL, 4, ?)")
      .run(Number.MAX_SAFE_INTEGER);
    expect(() => db.read((c) => assertLeaseHeld(c, 'x', 4, 0))).toThrow(LeaseLostError);
    expect(acquireLease(db, 'x', 'a', 1000, 0)).toBe(5);
  });

  it('a holder whose lease lapsed takes it again with a new token; the old token is stale', () => {
    expect(acquireLease(db, 'x', 'a', 1000, 0)).toBe(1);
    // Expired at its expiry instant: a new holding, though by the same owner.
    expect(acquireLease(db, 'x', 'a', 1000, 1000)).toBe(2);
    expect(db.read((c) => getLease(c, 'x'))).toMatchObject({ token: 2, acquiredAt: 1000, expiresAt: 2000 });
    expect(() => renewLease(db, 'x', 'a', 1, 1000, 1500)).toThrow(LeaseLostError);
    expect(() => releaseLease(db, 'x', 'a', 1)).toThrow(LeaseLostError);
    expect(db.read((c) => getLease(c, 'x'))).toMatchObject({ owner: 'a', token: 2, expiresAt: 2000 });
  });

  it('renewal of an expired lease fails even if nobody took it', () => {
    const t = acquireLease(db, 'x', 'a', 100, 0)!;
    expect(() => renewLease(db, 'x', 'a', t, 100, 100)).toThrow(LeaseLostError);
  });

  it('assertLeaseHeld fences a stale token inside a transaction and rolls it back', () => {
    const t1 = acquireLease(db, 'x', 'a', 100, 0)!;
    acquireLease(db, 'x', 'b', 100, 200);
    db.conn.exec('CREATE TABLE side (v INTEGER)');
    expect(() =>
      db.write((c) => {
        c.prepare('INSERT INTO side VALUES (1)').run();
        assertLeaseHeld(c, 'x', t1, 250);
      }),
    ).toThrow(LeaseLostError);
    expect(db.read((c) => c.prepare('SELECT count(*) AS n FROM side').get())).toEqual({ n: 0 });
    expect(() => db.read((c) => assertLeaseHeld(c, 'x', t1 + 1, 250))).not.toThrow();
    expect(() => db.read((c) => assertLeaseHeld(c, 'x', t1 + 1, 300))).toThrow(LeaseLostError);
    expect(thrown(() => db.read((c) => assertLeaseHeld(c, 'x', t1, 250)))).toMatchObject({
      message: 'lease x token 1 is stale',
      details: { name: 'x', token: 1, current: 2 },
    });
    expect(thrown(() => db.read((c) => assertLeaseHeld(c, 'nope', 1, 0)))).toMatchObject({
      details: { name: 'nope', token: 1, current: null },
    });
  });
});

describe('owners on this host, reclaiming and the async forms', () => {
  /** Above the kernel's largest pid_max (2^22): a pid that is never alive. */
  const DEAD_PID = 2 ** 22 + 1;
  const here = (pid: number, component = 'test') => `${os.hostname()}:${pid}:${component}:abcdef`;

  it('owner ids are <host>:<pid>:<component>:<6 hex>, distinct per call', () => {
    const a = leaseOwner('converter');
    expect(a).toMatch(new RegExp(`^${os.hostname()}:${process.pid}:converter:[0-9a-f]{6}$`));
    expect(leaseOwner('converter')).not.toBe(a);
  });

  it('only a gone process on this host is dead: not ours, not a live one, not another host, not a bad id', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await waitFor(() => child.pid !== undefined, { what: 'child started' });
      expect(ownerDeadHere(here(DEAD_PID))).toBe(true);
      expect(ownerDeadHere(here(child.pid!))).toBe(false);
      expect(ownerDeadHere(here(process.pid))).toBe(false);
      expect(ownerDeadHere(`elsewhere.example:${DEAD_PID}:test:abcdef`)).toBe(false);
      for (const pid of ['0', '-5', '1.5', 'x', ''])
        expect(ownerDeadHere(`${os.hostname()}:${pid}:test:abcdef`), pid).toBe(false);
      expect(ownerDeadHere(null)).toBe(false);
      expect(ownerDeadHere('')).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a process that exists but is not ours to signal (EPERM) is alive', () => {
    // pid 1 always exists; signalling it is refused unless we run as root, where kill 0 succeeds: alive either way.
    expect(ownerDeadHere(here(1))).toBe(false);
  });

  it("reclaims a dead process's lease at once (new token, logged); a live or remote holder keeps it", async () => {
    const now = Date.now();
    expect(acquireLease(db, 'job', here(DEAD_PID), 60_000, now)).toBe(1);
    const { log, lines } = captureLog('warn');
    expect(acquireOrReclaimLease(db, 'job', 'me', 60_000, now + 1, { log })).toBe(2);
    expect(db.read((c) => getLease(c, 'job'))).toMatchObject({ owner: 'me', token: 2 });
    expect(lines).toMatchObject([
      { msg: 'reclaimed the lease of a dead process', lease: 'job', deadOwner: here(DEAD_PID) },
    ]);
    // A live holder (this process under another owner id) and another host's holder keep theirs.
    expect(acquireOrReclaimLease(db, 'job', 'other', 60_000, now + 2)).toBeNull();
    expect(acquireLease(db, 'remote', `elsewhere.example:${DEAD_PID}:x:abcdef`, 60_000, now)).toBe(1);
    expect(acquireOrReclaimLease(db, 'remote', 'me', 60_000, now + 1)).toBeNull();
    // A free lease is simply taken.
    expect(acquireOrReclaimLease(db, 'fresh', 'me', 60_000, now)).toBe(1);
    expect(() => acquireOrReclaimLease(db, 'job', 'me', 0, now)).toThrow(ValidationError);
  });

  it('the async forms: reclaim, release (false once the token is stale) and renew', async () => {
    const now = Date.now();
    acquireLease(db, 'job', here(DEAD_PID), 60_000, now);
    const token = await acquireOrReclaimLeaseAsync(db, 'job', 'me', 60_000, now + 1);
    expect(token).toBe(2);
    await expect(acquireOrReclaimLeaseAsync(db, 'job', 'other', 60_000, now + 2)).resolves.toBeNull();
    await expect(acquireOrReclaimLeaseAsync(db, 'job', 'me', -1, now)).rejects.toThrow(ValidationError);
    // Its wait for a busy write lock ends when the caller aborts.
    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const ac = new AbortController();
      const waiting = acquireOrReclaimLeaseAsync(db, 'other', 'me', 60_000, now, { signal: ac.signal });
      ac.abort(new Error('shutting down'));
      await expect(waiting).rejects.toThrow('shutting down');
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    const clock = new ManualClock(now + 10_000);
    await renewLeaseAsync(db, 'job', 'me', 2, 5000, { clock });
    expect(db.read((c) => getLease(c, 'job'))?.expiresAt).toBe(now + 15_000);
    expect(await releaseLeaseAsync(db, 'job', 'me', 1)).toBe(false);
    expect(await releaseLeaseAsync(db, 'job', 'me', 2)).toBe(true);
    expect(db.read((c) => getLease(c, 'job'))?.owner).toBeNull();
    expect(await releaseLeaseAsync(db, 'job', 'me', 2)).toBe(false);
    const err = await renewLeaseAsync(db, 'job', 'me', 2, 5000, { clock }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      constructor: LeaseLostError,
      message: 'lease job is no longer held by me',
      details: { name: 'job', owner: 'me', token: 2 },
    });
  });

  it('an async renewal waits for a busy write lock for at most the ttl by default, or its budget', async () => {
    const clock = new ManualClock(Date.now());
    acquireLease(db, 'job', 'me', 400, clock.now());
    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    try {
      for (const [opts, budget] of [
        [{ clock }, 400],
        [{ clock, budgetMs: 150 }, 150],
      ] as const) {
        const t0 = performance.now();
        const err = await renewLeaseAsync(db, 'job', 'me', 1, 400, opts).catch((e: unknown) => e);
        const waited = performance.now() - t0;
        expect(err).toBeInstanceOf(DbBusyError);
        expect(waited).toBeGreaterThanOrEqual(budget);
        // Not the database's own write budget (15 s here).
        expect(waited).toBeLessThan(budget + 5000);
      }
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
  });
});

describe('withLease', () => {
  /** Owner `a` runs fn under the `job` lease. */
  const asA = <T>(
    ttlMs: number,
    fn: (signal: AbortSignal, token: number) => Promise<T>,
    opts?: WithLeaseOptions,
  ) => withLease(db, 'job', 'a', ttlMs, fn, opts);

  it('renews while fn runs past the ttl and releases afterwards', async () => {
    // A 400 ms ttl (renewed every 133 ms): a loaded test machine can stall the event loop for 150 ms.
    const r = await asA(400, async (signal, token) => {
      // Someone else polls while we hold it across several ttl periods.
      let refused = 0;
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        if (acquireLease(db, 'job', 'b', 400, Date.now()) === null) refused++;
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(signal.aborted).toBe(false);
      return { token, refused };
    });
    expect(r.acquired).toBe(true);
    if (!r.acquired) return;
    expect(r.value.refused).toBeGreaterThan(10);
    expect(db.read((c) => getLease(c, 'job'))?.owner).toBeNull();
  });

  it('leaves no renewal timer behind once fn has settled, whichever way', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      await asA(300, async () => 'done');
      await expect(asA(300, async () => Promise.reject(new Error('fn failed')))).rejects.toThrow('fn failed');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not call fn when the lease is held elsewhere', async () => {
    acquireLease(db, 'job', 'b', 10_000, Date.now());
    let called = false;
    const r = await asA(1000, async () => {
      called = true;
    });
    expect(r).toEqual({ acquired: false });
    expect(called).toBe(false);
  });

  it('renews every ttl/3 by default, or every renewEveryMs', async () => {
    // Renewal instants, seen through the clock withLease reads for each renewal (the first read acquires).
    const renewals = async (ttlMs: number, renewEveryMs?: number): Promise<number[]> => {
      const reads: number[] = [];
      const clock: Clock = {
        now: () => reads[reads.push(Date.now()) - 1],
        monotonic: () => performance.now(),
      };
      await withLease(db, 'job', 'a', ttlMs, () => waitFor(() => reads.length >= 4, { what: 'renewals' }), {
        clock,
        renewEveryMs,
      });
      return reads.slice(1).map((t, i) => t - reads[i]);
    };
    // Timers never fire early, so each gap is at least the interval; a 1 ms interval would show at once.
    for (const gap of await renewals(240)) expect(gap).toBeGreaterThanOrEqual(75);
    const fast = await renewals(60_000, 40);
    for (const gap of fast) expect(gap).toBeGreaterThanOrEqual(35);
    expect(Math.min(...fast)).toBeLessThan(10_000);
  });

  it('a lock held elsewhere delays a renewal without costing the lease; fn carries on', async () => {
    const { log, lines } = captureLog('warn');
    const locker = new Database(file);
    try {
      const r = await withLease(
        db,
        'job',
        'a',
        3000,
        async (signal) => {
          const before = db.read((c) => getLease(c, 'job'))!.expiresAt;
          // Renewals come every 100 ms; hold the write lock across several of them (well inside the ttl).
          locker.exec('BEGIN IMMEDIATE');
          await new Promise((res) => setTimeout(res, 500));
          expect(db.read((c) => getLease(c, 'job'))!.expiresAt).toBe(before);
          locker.exec('COMMIT');
          await waitFor(() => db.read((c) => getLease(c, 'job'))!.expiresAt > before, { what: 'renewed' });
          return signal.aborted;
        },
        { log, renewEveryMs: 100 },
      );
      expect(r).toMatchObject({ acquired: true, value: false });
      expect(lines.map((line) => line.msg)).not.toContain('lease lost while running; aborting');
    } finally {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
    }
    expect(db.read((c) => getLease(c, 'job'))?.owner).toBeNull();
  });

  it('a renewal that fails for good aborts fn with LeaseLostError', async () => {
    const { log, lines } = captureLog('warn');
    const p = asA(
      90,
      async (signal) => {
        db.conn.exec('ALTER TABLE leases RENAME TO leases_away');
        await waitFor(() => signal.aborted, { what: 'fn aborted' });
        db.conn.exec('ALTER TABLE leases_away RENAME TO leases');
        throw signal.reason;
      },
      { log },
    );
    const err = await p.catch((e: unknown) => e);
    expect(err).toMatchObject({
      constructor: LeaseLostError,
      message: 'lease job lost',
      details: { name: 'job', token: 1 },
    });
    expect(lines).toMatchObject([said('lease lost while running; aborting', 1)]);
    // Lost: not released (the row may be someone else's by now); it expires.
    expect(db.read((c) => getLease(c, 'job'))?.owner).toBe('a');
  });

  it('rejects when fn resolves after a renewal found the lease gone', async () => {
    const clock = new ManualClock(Date.now());
    const p = asA(
      90,
      async (signal) => {
        clock.advance(1000);
        acquireLease(db, 'job', 'b', 10_000, clock.now());
        await waitFor(() => signal.aborted, { what: 'fn aborted' });
        return 'finished anyway';
      },
      { clock },
    );
    await expect(p).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('rejects when the lease lapsed and was taken while fn ran without a renewal noticing', async () => {
    const clock = new ManualClock(Date.now());
    const { log, lines } = captureLog('warn');
    const p = asA(
      1000,
      async () => {
        // fn kept the event loop busy past the ttl: no renewal ran, and another owner took the lease.
        clock.advance(2000);
        expect(acquireLease(db, 'job', 'b', 10_000, clock.now())).toBe(2);
        return 'finished';
      },
      { clock, renewEveryMs: 600_000, log },
    );
    await expect(p).rejects.toMatchObject({ constructor: LeaseLostError, details: { owner: 'a', token: 1 } });
    expect(lines).toMatchObject([said('lease expired and was taken while running', 1)]);
    expect(db.read((c) => getLease(c, 'job'))).toMatchObject({ owner: 'b', token: 2 });
  });

  it('a release that fails for another reason is logged and the result still returned', async () => {
    const { log, lines } = captureLog('warn');
    const r = await asA(
      10_000,
      async () => {
        db.conn.exec('ALTER TABLE leases RENAME TO leases_away');
        return 7;
      },
      { log },
    );
    db.conn.exec('ALTER TABLE leases_away RENAME TO leases');
    expect(r).toEqual({ acquired: true, token: 1, value: 7 });
    expect(lines).toMatchObject([said('lease release failed; it will expire', 1)]);
  });

  it('aborts fn with LeaseLostError when a renewal finds the lease gone', async () => {
    const clock = new ManualClock(Date.now());
    const { log, lines } = captureLog('warn');
    const p = asA(
      90,
      async (signal) => {
        // Jump past the expiry and let another owner take the lease; the next renewal must notice.
        clock.advance(1000);
        expect(acquireLease(db, 'job', 'b', 10_000, clock.now())).toBe(2);
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      { clock, log },
    );
    await expect(p).rejects.toMatchObject({ constructor: LeaseLostError, details: { owner: 'a', token: 1 } });
    expect(db.read((c) => getLease(c, 'job'))).toMatchObject({ owner: 'b', token: 2 });
    // Known lost: no release is tried (it could only fail).
    expect(lines).toMatchObject([said('lease lost while running; aborting', 1)]);
  });

  it('keeps the lease through a write lock held elsewhere, renewing without blocking the event loop', async () => {
    createCounter(db, 0);
    const r = await withLease(
      db,
      'job',
      'a',
      3000,
      async (signal) => {
        // Another process takes the write lock and lets it go after 1.6 s: past three renewal ticks, but
        // well before the lease expires. The renewal waiting for it must not freeze the loop meanwhile.
        const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file, '1600']);
        children.push(holder);
        await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });
        let maxGap = 0;
        let last = performance.now();
        const ticker = setInterval(() => {
          maxGap = Math.max(maxGap, performance.now() - last);
          last = performance.now();
        }, 10);
        await waitFor(() => holder.messages.some((m) => m.done), { what: 'child released the lock' });
        // The next renewal after the release extends the lease past its first expiry.
        await waitFor(
          () => {
            if (signal.aborted) throw new Error(`lease lost: ${String(signal.reason)}`);
            return (db.read((c) => getLease(c, 'job'))?.expiresAt ?? 0) > Date.now() + 2500;
          },
          { what: 'lease renewed after the lock was released' },
        );
        clearInterval(ticker);
        return { aborted: signal.aborted, maxGap };
      },
      { renewEveryMs: 500 },
    );
    expect(r).toMatchObject({ acquired: true, value: { aborted: false } });
    if (r.acquired) expect(r.value.maxGap).toBeLessThan(400);
  });

  it('a busy database delays renewals one at a time (each waits its budget) and never costs the lease', async () => {
    // The clock stands still, so the lease never expires: only the write lock stands in the way. The write
    // lock is held throughout, so the release at the end fails too (after a short synchronous budget).
    const clock = new ManualClock(Date.now());
    const quick = openStateDb(file, { syncWriteBudgetMs: 100 });
    const locker = new Database(file);
    const { log, lines } = captureLog('warn');
    const retrying = () => lines.filter((l) => l.msg === 'lease renewal failed; retrying at the next tick');
    try {
      const t0 = performance.now();
      const r = await withLease(
        quick,
        'job',
        'a',
        300,
        async (signal) => {
          locker.exec('BEGIN IMMEDIATE');
          await waitFor(() => retrying().length >= 3, { what: 'three renewals gave up', timeoutMs: 30_000 });
          return { elapsed: performance.now() - t0, aborted: signal.aborted };
        },
        { clock, log, renewEveryMs: 20 },
      );
      // The renewal still waiting when fn settled is dropped quietly (its abort is not a lost lease).
      await new Promise((res) => setImmediate(res));
      expect(r).toMatchObject({ acquired: true, value: { aborted: false } });
      // Three renewals in a row, each after waiting the full ttl for the lock: never two at once.
      if (r.acquired) expect(r.value.elapsed).toBeGreaterThanOrEqual(3 * 300);
      expect(retrying()[0]).toMatchObject(said('lease renewal failed; retrying at the next tick', 1));
      expect(lines.map((l) => l.msg)).not.toContain('lease lost while running; aborting');
      expect(lines.at(-1)).toMatchObject(said('lease release failed; it will expire', 1));
    } finally {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
      quick.close();
    }
  });

  it("passes the caller's abort through to fn and still releases", async () => {
    const ac = new AbortController();
    const p = asA(
      1000,
      (signal) =>
        new Promise<string>((resolve) => {
          signal.addEventListener('abort', () => resolve('stopped'));
          ac.abort();
        }),
      { signal: ac.signal },
    );
    await expect(p).resolves.toMatchObject({ acquired: true, value: 'stopped' });
    expect(db.read((c) => getLease(c, 'job'))?.owner).toBeNull();
  });
});

describe('two processes competing', () => {
  it('never both hold the lease, and tokens rise with every hand-over', async () => {
    db.conn.exec('CREATE TABLE lease_log (seq INTEGER PRIMARY KEY, token INTEGER, owner TEXT, phase TEXT)');
    const a = forkFixture<{ owner: string; held: number; refused: number }>('lease-child.ts', [
      file,
      'A',
      '40',
    ]);
    const b = forkFixture<{ owner: string; held: number; refused: number }>('lease-child.ts', [
      file,
      'B',
      '40',
    ]);
    children.push(a, b);
    await waitFor(() => a.messages.length > 0 && b.messages.length > 0, { what: 'both children ready' });
    a.child.send('go');
    b.child.send('go');
    const codes = await Promise.all([a.exited, b.exited]);
    expect(codes, a.stderr() + b.stderr()).toEqual([0, 0]);
    const reports = [...a.messages, ...b.messages].filter((m) => !('ready' in m));
    expect(reports.map((r) => r.held)).toEqual([40, 40]);
    // They did compete: each was refused at least once while the other held it.
    expect(reports.every((r) => r.refused > 0)).toBe(true);
    const rows = db.read((c) =>
      c.prepare('SELECT token, owner, phase FROM lease_log ORDER BY seq').all(),
    ) as {
      token: number;
      owner: string;
      phase: string;
    }[];
    expect(rows.length).toBe(2 * reports.reduce((s, r) => s + r.held, 0));
    let lastToken = 0;
    let handovers = 0;
    for (let i = 0; i < rows.length; i += 2) {
      const [enter, exit] = [rows[i], rows[i + 1]];
      // Each critical section is enter then exit by the same holder, with nothing in between.
      expect([enter.phase, exit.phase]).toEqual(['enter', 'exit']);
      expect(exit).toMatchObject({ token: enter.token, owner: enter.owner });
      expect(enter.token).toBeGreaterThan(lastToken);
      if (i > 0 && rows[i - 1].owner !== enter.owner) handovers++;
      lastToken = enter.token;
    }
    expect(handovers).toBeGreaterThan(0);
    await waitFor(() => db.read((c) => getLease(c, 'singleton'))?.owner === null, { what: 'lease released' });
  });
});
