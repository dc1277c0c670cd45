// jobIn: a daemon reads its job inside its own transaction (the converter joins a group to its job's state
// there), seeing what that transaction has changed so far.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { enqueue, jobIn, SqliteQueueStore } from '../../../lib/queue/index.js';
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
