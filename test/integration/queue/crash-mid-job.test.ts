// A worker claims a job and is SIGKILLed. The job is not claimable before the
// lease expires and is after; attempts increments; the dead worker's late complete() is refused.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import type { Db } from '../../../lib/db/index.js';
import { LeaseLostError } from '../../../lib/errors.js';
import { SqliteQueueStore, type Lease } from '../../../lib/queue/index.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let file: string;
let db: Db;
const children: Forked<{ lease: Lease | null }>[] = [];
beforeEach(async () => {
  ({ dir, file, db } = await setUpStateDb());
});
afterEach(() => tearDownStateDb({ dir, db }, children));

describe('crash mid-job', () => {
  it('lease expiry hands the job on; the dead holder is fenced off', async () => {
    const { job } = new SqliteQueueStore(db).enqueue({
      queue: 'crash',
      kind: 'convert',
      payload: { group: 'g1' },
    });
    const child = forkFixture<{ lease: Lease | null }>('claim-child.ts', [file, '60000']);
    children.push(child);
    await waitFor(() => child.messages.length > 0, { what: 'child claimed' });
    const deadLease = child.messages[0].lease!;
    expect(deadLease).toMatchObject({ jobId: job.id, token: 1, attempt: 1 });
    child.child.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');

    const row = (): unknown => db.read((c) => c.prepare('SELECT * FROM jobs WHERE id = ?').get(job.id));
    const expiresAt = (row() as { lease_expires_at: number }).lease_expires_at;
    // The lease clock decides, so the two sides of the expiry are checked exactly.
    const clock = new ManualClock(expiresAt - 1);
    const store = new SqliteQueueStore(db, { clock });
    expect(store.claim({ queue: 'crash', owner: 'parent', leaseMs: 60_000 })).toEqual([]);
    expect(store.get(job.id)).toMatchObject({ state: 'running', attempts: 1, leaseOwner: deadLease.owner });
    clock.set(expiresAt + 1);
    const [again] = store.claim({ queue: 'crash', owner: 'parent', leaseMs: 60_000 });
    expect(again).toMatchObject({ id: job.id, attempts: 2, leaseToken: 2, leaseOwner: 'parent' });

    const before = row();
    expect(() => store.complete(deadLease, { late: true })).toThrow(LeaseLostError);
    expect(() => store.heartbeat(deadLease, 1000)).toThrow(LeaseLostError);
    expect(row()).toEqual(before);
    store.complete(again.lease, { ok: true });
    expect(store.get(job.id)).toMatchObject({ state: 'done', attempts: 2, result: { ok: true } });
  });
});
