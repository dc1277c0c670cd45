// lib/loop: interval and computed next times, early wake, backoff while ticks fail (reset by a success),
// fatal errors end run(), and a lease makes one of two loops tick while the other stands by and takes over.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { getLease, leaseOwner } from '../../../lib/leases/index.js';
import { startLoop, type Loop } from '../../../lib/loop.js';
import { openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

const NO_JITTER = { strategy: 'exponential', baseMs: 40, maxMs: 1000, jitter: 0 } as const;

describe('Loop', () => {
  const stops: AbortController[] = [];
  afterEach(() => stops.splice(0).forEach((ac) => ac.abort()));
  const signal = (): AbortSignal => {
    const ac = new AbortController();
    stops.push(ac);
    return ac.signal;
  };

  it('ticks at once, then every everyMs; wake() runs the next tick early', async () => {
    const at: number[] = [];
    const { loop } = startLoop({
      name: 't',
      everyMs: 60_000,
      signal: signal(),
      tick: () => void at.push(Date.now()),
    });
    await waitFor(() => at.length === 1, { what: 'first tick at once' });
    loop.wake();
    await waitFor(() => at.length === 2, { what: 'woken tick', timeoutMs: 2000 });
  });

  it('a wake during a tick makes the next tick run without waiting', async () => {
    let n = 0;
    const holder: { loop?: Loop } = {};
    ({ loop: holder.loop } = startLoop({
      name: 't',
      everyMs: 60_000,
      signal: signal(),
      tick: () => {
        n++;
        if (n === 1) holder.loop?.wake();
      },
    }));
    await waitFor(() => n === 2, { what: 'second tick from the wake during the first', timeoutMs: 2000 });
  });

  it('a tick can return the wall-clock time of its next run', async () => {
    const at: number[] = [];
    startLoop({
      name: 't',
      everyMs: 60_000,
      signal: signal(),
      tick: () => {
        at.push(performance.now());
        return Date.now() + 150;
      },
    });
    await waitFor(() => at.length >= 3, { what: 'three ticks 150 ms apart', timeoutMs: 5000 });
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(140);
  });

  it('backs off while ticks fail, counts each failure, resets after a success', async () => {
    const at: number[] = [];
    const errors: unknown[] = [];
    const { loop } = startLoop({
      name: 't',
      everyMs: 10,
      signal: signal(),
      errorBackoff: NO_JITTER,
      onError: (e) => errors.push(e),
      tick: () => {
        at.push(performance.now());
        if (at.length <= 4) throw new Error(`fail ${at.length}`);
      },
    });
    await waitFor(() => at.length >= 6, { what: 'recovery after four failures', timeoutMs: 5000 });
    expect(errors).toHaveLength(4);
    // 40, 80, 160 ms between failures: the waits grow.
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(150);
    expect(at[3]! - at[2]!).toBeGreaterThan(at[1]! - at[0]!);
    expect(loop.errorStreak).toBe(0);
  });

  it('a fatal error ends run() with that error', async () => {
    const fatal = new Error('database gone');
    const { done } = startLoop({
      name: 't',
      everyMs: 10,
      signal: signal(),
      isFatal: (e) => e === fatal,
      tick: () => {
        throw fatal;
      },
    });
    await expect(done).rejects.toBe(fatal);
  });

  it('stops promptly when its signal aborts and resolves', async () => {
    const ac = new AbortController();
    const { done } = startLoop({ name: 't', everyMs: 60_000, signal: ac.signal, tick: () => undefined });
    ac.abort();
    await expect(done).resolves.toBeUndefined();
  });
});

describe('Loop with a lease', () => {
  let dir: string;
  let file: string;
  let db: Db;
  let db2: Db;
  beforeEach(async () => {
    ({ dir, file, db } = await setUpStateDb());
    db2 = openStateDb(file);
  });
  afterEach(() => {
    db2.close();
    tearDownStateDb({ dir, db });
  });

  it('one of two loops ticks; the other stands by and takes over with a higher token when the first stops', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const ticksA: (number | null)[] = [];
    const ticksB: (number | null)[] = [];
    const ownerA = leaseOwner('test-a');
    const first = startLoop({
      name: 'a',
      everyMs: 30,
      signal: a.signal,
      lease: { db, name: 'test-loop', owner: ownerA, ttlMs: 5000 },
      tick: ({ token }) => void ticksA.push(token),
    });
    await waitFor(() => ticksA.length >= 2, { what: 'a holds the lease and ticks' });
    const second = startLoop({
      name: 'b',
      everyMs: 30,
      signal: b.signal,
      lease: { db: db2, name: 'test-loop', owner: leaseOwner('test-b'), ttlMs: 5000 },
      tick: ({ token }) => void ticksB.push(token),
    });
    await waitFor(() => ticksA.length >= 6, { what: 'a keeps ticking' });
    expect(ticksB).toEqual([]);
    expect(second.loop.token).toBeNull();
    a.abort();
    await first.done;
    // Released on stop: b takes over at its next tick, well before the 5 s ttl would expire.
    await waitFor(() => ticksB.length >= 1, { what: 'b takes over', timeoutMs: 3000 });
    expect(ticksB[0]).toBe(ticksA[0]! + 1);
    expect(db.read((c) => getLease(c, 'test-loop'))?.owner).not.toBe(ownerA);
    b.abort();
    await second.done;
  });
});
