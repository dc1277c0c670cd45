// The worker's clockwork, under fake timers so every instant is exact: an idle worker polls at pollMs doubling
// to maxPollMs and starts over after work; a failing claim backs off 1, 2, 4, 5, 5 s (the error backoff) and
// a commit elsewhere does not cut that short; a running job is heartbeated every leaseMs/3; and a stopped
// worker leaves no timer behind.
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { DbBusyError } from '../../../lib/errors.js';
import { createRegistry } from '../../../lib/metrics.js';
import {
  queueMetrics,
  runWorker,
  SqliteQueueStore,
  type ClaimedJob,
  type ClaimOptions,
  type Lease,
  type WorkerOptions,
} from '../../../lib/queue/index.js';
import { openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

/** The store, recording when (ms after T0) the worker claims and heartbeats; claims can be made to fail. */
class RecordingStore extends SqliteQueueStore {
  claims: number[] = [];
  heartbeats: number[] = [];
  failing = false;
  override claim(opts: ClaimOptions): ClaimedJob[] {
    this.claims.push(Date.now() - T0);
    if (this.failing) throw new DbBusyError('test: the database stays busy');
    return super.claim(opts);
  }
  override heartbeat(lease: Lease, leaseMs: number): Lease {
    this.heartbeats.push(Date.now() - T0);
    return super.heartbeat(lease, leaseMs);
  }
}

const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - times[i]);

let dir: string;
let file: string;
let db: Db;
let store: RecordingStore;
let ac: AbortController;
beforeEach(async () => {
  ({ dir, file, db } = await setUpStateDb());
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    now: T0,
  });
  store = new RecordingStore(db);
  ac = new AbortController();
});
afterEach(async () => {
  ac.abort();
  await vi.runOnlyPendingTimersAsync();
  vi.useRealTimers();
  vi.restoreAllMocks();
  tearDownStateDb({ dir, db });
});

const start = (handler: WorkerOptions['handler'], opts: Partial<WorkerOptions> = {}) =>
  runWorker({
    db,
    store,
    queue: 'q',
    signal: ac.signal,
    pollMs: 100,
    maxPollMs: 800,
    wakeCheckMs: 50,
    handler,
    ...opts,
  });

describe('worker timing', () => {
  it('an idle worker polls at pollMs doubling to maxPollMs, and starts over after work', async () => {
    const w = start(async () => 'ok');
    await vi.advanceTimersByTimeAsync(2_400);
    // Nothing changed in the database meanwhile, so the data_version checks every 50 ms wake nobody.
    expect(store.claims).toEqual([0, 100, 300, 700, 1_500, 2_300]);
    // Each idle took its abort listener away again: only the current one's is left.
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    await vi.advanceTimersByTimeAsync(0);
    expect(store.get(job.id)?.state).toBe('done');
    const afterWork = store.claims.length;
    await vi.advanceTimersByTimeAsync(300);
    expect(gaps(store.claims.slice(afterWork - 1))).toEqual([100, 200]);
    ac.abort();
    expect(await w).toMatchObject({ done: 1, errors: 0 });
  });

  it('a failing claim backs off 1, 2, 4, 5, 5 s, not cut short by commits elsewhere; success resets it', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // the jitter's midpoint: delays exactly as configured
    store.failing = true;
    const w = start(async () => 'ok');
    await vi.advanceTimersByTimeAsync(500);
    const other = openStateDb(file);
    new SqliteQueueStore(other).enqueue({ queue: 'q', kind: 'k' });
    other.close();
    await vi.advanceTimersByTimeAsync(16_600);
    expect(store.claims).toEqual([0, 1_000, 3_000, 7_000, 12_000, 17_000]);
    store.failing = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.list({ state: 'done' })).toHaveLength(1);
    store.failing = true;
    const failingAgain = store.claims.length;
    await vi.advanceTimersByTimeAsync(4_000);
    // The streak starts over: 1 s, then 2 s.
    expect(gaps(store.claims.slice(failingAgain))).toEqual([1_000, 2_000]);
    ac.abort();
    expect((await w).errors).toBe(9);
  });

  it('runs at most `concurrency` jobs; a full worker does not poll, a freed slot claims at once', async () => {
    for (let i = 0; i < 3; i++) store.enqueue({ queue: 'q', kind: 'k' });
    const finishers: (() => void)[] = [];
    const w = start(() => new Promise((resolve) => finishers.push(() => resolve('ok'))), { concurrency: 2 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(finishers).toHaveLength(2);
    expect(store.claims).toEqual([0]);
    finishers[0]();
    await vi.advanceTimersByTimeAsync(0);
    expect(finishers).toHaveLength(3);
    expect(store.claims).toEqual([0, 2_000]);
    expect(store.list({ state: 'running' })).toHaveLength(2);
    finishers[1]();
    finishers[2]();
    await vi.advanceTimersByTimeAsync(0);
    ac.abort();
    expect(await w).toMatchObject({ done: 3 });
  });

  it('stops at once when aborted while idle, whatever its poll interval', async () => {
    const w = start(async () => 'ok', { pollMs: 600_000, maxPollMs: 600_000 });
    let stopped = false;
    void w.then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.claims).toEqual([0]);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(true);
  });

  it('heartbeats a running job every leaseMs/3', async () => {
    store.enqueue({ queue: 'q', kind: 'k' });
    let finish: () => void = () => {};
    const w = start(() => new Promise((resolve) => (finish = () => resolve('ok'))), { leaseMs: 300 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.heartbeats).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000]);
    finish();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.heartbeats).toHaveLength(10);
    ac.abort();
    expect(await w).toMatchObject({ done: 1, leaseLost: 0 });
  });

  it('leaves no timer behind once it has stopped', async () => {
    const metrics = queueMetrics(createRegistry({ daemon: 'test', defaultMetrics: false }), ['q']);
    store.enqueue({ queue: 'q', kind: 'k' });
    let finish: () => void = () => {};
    const w = start(() => new Promise((resolve) => (finish = () => resolve('ok'))), {
      metrics,
      gaugeEveryMs: 100,
      drainMs: 60_000,
    });
    await vi.advanceTimersByTimeAsync(500);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(await w).toMatchObject({ done: 1 });
    expect(vi.getTimerCount()).toBe(0);
  });
});
