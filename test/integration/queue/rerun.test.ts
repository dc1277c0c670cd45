// platform.md §8.4 test 6: rerun creates a linked job with a `<base>_rerun_YYYYMMDD_HHMMSS` run id and a
// merged payload; the original is untouched; a rerun of an unfinished job is refused with 409.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/index.js';
import { httpStatusFor, InvalidStateError, NotFoundError } from '../../../lib/errors.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { thrown } from '../../helpers/thrown.js';

let dir: string;
let db: Db;
let store: SqliteQueueStore;
const clock = new ManualClock(Date.UTC(2025, 2, 4, 5, 6, 7));
beforeEach(async () => {
  ({ dir, db } = await setUpStateDb());
  store = new SqliteQueueStore(db, { clock });
});
afterEach(() => tearDownStateDb({ dir, db }));

describe('rerun', () => {
  it('creates a linked job with the rerun run id and merged payload; the original is untouched', () => {
    const { job } = store.enqueue({
      queue: 'convert',
      kind: 'convert',
      runId: 'obs_2025-03-04T05:00:00',
      payload: { ms: '/data/a.ms', calTable: '/cal/x', ra: 128.7 },
      priority: 3,
      maxAttempts: 4,
    });
    const [c] = store.claim({ queue: 'convert', owner: 'w', leaseMs: 1000 });
    expect(() => store.rerun(job.id)).toThrow(InvalidStateError);
    store.complete(c.lease, { ok: true });
    const original = store.get(job.id);

    const rerun = store.rerun(job.id, { calTable: '/cal/y' });
    expect(rerun.parentId).toBe(job.id);
    expect(rerun.runId).toMatch(/^obs_2025-03-04T05:00:00_rerun_\d{8}_\d{6}$/);
    expect(rerun.runId).toBe('obs_2025-03-04T05:00:00_rerun_20250304_050607');
    expect(rerun).toMatchObject({
      state: 'queued',
      attempts: 0,
      queue: 'convert',
      kind: 'convert',
      priority: 3,
      maxAttempts: 4,
      payload: { ms: '/data/a.ms', calTable: '/cal/y', ra: 128.7 },
    });
    expect(store.get(job.id)).toEqual(original);
    expect(store.list({ parentId: job.id }).map((j) => j.id)).toEqual([rerun.id]);
  });

  it('refuses a still-queued or running original with 409, and an unknown id with 404', () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k' });
    let err: unknown;
    try {
      store.rerun(job.id);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidStateError);
    expect(httpStatusFor(err)).toBe(409);
    expect(err).toMatchObject({
      message: `job ${job.id} is queued; rerun it once it has finished`,
      details: { id: job.id, state: 'queued' },
    });
    store.claim({ queue: 'q', owner: 'w', leaseMs: 1000 });
    expect(thrown(() => store.rerun(job.id))).toMatchObject({
      constructor: InvalidStateError,
      message: `job ${job.id} is running; rerun it once it has finished`,
    });
    expect(store.list()).toHaveLength(1);
    expect(thrown(() => store.rerun(12345))).toMatchObject({
      constructor: NotFoundError,
      message: 'job 12345 not found',
      details: { id: 12345 },
    });
  });

  it('a rerun of a dead job is allowed and gets a fresh attempt budget', () => {
    const { job } = store.enqueue({ queue: 'q', kind: 'k', maxAttempts: 1, dedupeKey: 'grp' });
    const [c] = store.claim({ queue: 'q', owner: 'w', leaseMs: 1000 });
    store.fail(c.lease, new Error('x'), { retryable: false });
    const rerun = store.rerun(job.id);
    expect(rerun).toMatchObject({
      state: 'queued',
      attempts: 0,
      dedupeKey: 'grp',
      runId: `job_${job.id}_rerun_20250304_050607`,
    });
    // The rerun now holds the dedupe key: a second rerun would be a duplicate.
    expect(thrown(() => store.rerun(job.id))).toMatchObject({
      constructor: InvalidStateError,
      message: `job ${rerun.id} with the same dedupe key is already unfinished`,
      details: { id: job.id, existing: rerun.id },
    });
  });
});
