// jobIn: a daemon reads its job inside its own transaction (the converter joins a group to its job's state
// there), seeing what that transaction has changed so far. cancelQueuedIn: a planner cancels a build that has
// not started, in the transaction that replaces its plan.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { cancelQueuedIn, enqueue, jobIn, SqliteQueueStore } from '../../../lib/queue/index.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';

let dir: string;
let db: Db;
beforeEach(async () => void ({ dir, db } = await setUpStateDb()));
afterEach(() => tearDownStateDb({ dir, db }));

it("reads a job inside the caller's transaction, with that transaction's own changes", () => {
  const store = new SqliteQueueStore(db);
  const seen = db.write((conn) => {
    const { job } = enqueue(conn, { queue: 'q', kind: 'k', payload: { n: 1 }, maxAttempts: 4 }, 1000);
    return jobIn(conn, job.id);
  });
  expect(seen).toMatchObject({ queue: 'q', kind: 'k', payload: { n: 1 }, state: 'queued', maxAttempts: 4 });
  store.cancel(seen!.id);
  expect(db.read((conn) => jobIn(conn, seen!.id))?.state).toBe('cancelled');
  expect(db.read((conn) => jobIn(conn, 424242))).toBeUndefined();
});

it("cancelQueuedIn cancels a job still queued, inside the caller's transaction; never a running or finished one", () => {
  const store = new SqliteQueueStore(db);
  const running = store.enqueue({ queue: 'q', kind: 'k', runAt: 0 }).job;
  const queued = store.enqueue({ queue: 'q', kind: 'k', runAt: Date.now() + 3_600_000 }).job;
  expect(store.claim({ queue: 'q', owner: 'w', leaseMs: 60_000, limit: 2 }).map((j) => j.id)).toEqual([
    running.id,
  ]);
  // Rolled back with the caller's transaction: still queued.
  expect(() =>
    db.write((conn) => {
      expect(cancelQueuedIn(conn, queued.id, 5000)).toBe(true);
      throw new Error('the planner changed its mind');
    }),
  ).toThrow(/changed its mind/);
  expect(store.get(queued.id)?.state).toBe('queued');
  expect(db.write((conn) => cancelQueuedIn(conn, queued.id, 5000))).toBe(true);
  expect(store.get(queued.id)).toMatchObject({ state: 'cancelled', finishedAt: 5000, updatedAt: 5000 });
  expect(db.write((conn) => cancelQueuedIn(conn, queued.id, 6000))).toBe(false);
  expect(db.write((conn) => cancelQueuedIn(conn, running.id, 6000))).toBe(false);
  expect(store.get(running.id)?.state).toBe('running');
});
