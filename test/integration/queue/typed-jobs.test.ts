// Typed jobs: a kind declared once with its payload schema. A bad payload is refused at enqueue (nothing
// written) and, when a job that no longer fits reaches a claim (written by an older build, by hand, or by a
// rerun with overrides), it goes dead with the reason and never reaches the handler; the handler gets the
// parsed payload.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Db } from '../../../lib/db/index.js';
import { ValidationError } from '../../../lib/errors.js';
import { createRegistry } from '../../../lib/metrics.js';
import { defineJob, queueMetrics, runWorker, SqliteQueueStore } from '../../../lib/queue/index.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { captureLog } from '../../helpers/logs.js';
import { waitFor } from '../../helpers/wait.js';

const Render = defineJob({
  queue: 'thumbs',
  kind: 'render',
  payload: z.object({ path: z.string().min(1), planes: z.number().int().positive() }).strict(),
});
const Deliver = defineJob({
  queue: { prefix: 'deliver:' },
  kind: 'send',
  payload: z.object({ id: z.number() }),
});

let dir: string;
let db: Db;
let store: SqliteQueueStore;
let ac: AbortController;
beforeEach(async () => {
  ({ dir, db } = await setUpStateDb());
  store = new SqliteQueueStore(db);
  ac = new AbortController();
});
afterEach(() => {
  ac.abort();
  tearDownStateDb({ dir, db });
});

describe('typed jobs', () => {
  it('refuses a bad payload at enqueue, naming the kind and each bad key; nothing is written', () => {
    const bad = { path: '', planes: 1.5 } as unknown as z.infer<typeof Render.schema>;
    let err: unknown;
    try {
      db.write((c) => Render.enqueue(c, bad, {}, Date.now()));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(/thumbs render: bad payload/);
    expect((err as Error).message).toMatch(/path: /);
    expect((err as Error).message).toMatch(/planes: /);
    expect(store.list({})).toEqual([]);
    const { job, created } = db.write((c) =>
      Render.enqueue(c, { path: '/a.fits', planes: 2 }, {}, Date.now()),
    );
    expect(created).toBe(true);
    expect(job).toMatchObject({ queue: 'thumbs', kind: 'render', payload: { path: '/a.fits', planes: 2 } });
  });

  it('a family of queues needs a member; a worker refuses a queue its type does not live in', () => {
    expect(() => db.write((c) => Deliver.enqueue(c, { id: 1 }, {}, Date.now()))).toThrow(/needs a member/);
    const { job } = db.write((c) => Deliver.enqueue(c, { id: 1 }, { member: 'slack' }, Date.now()));
    expect(job.queue).toBe('deliver:slack');
    expect(Deliver.accepts('deliver:slack')).toBe(true);
    expect(Deliver.accepts('deliver:')).toBe(false);
    expect(() =>
      runWorker({ db, type: Render, queue: 'other', signal: ac.signal, handler: async () => 'x' }),
    ).toThrow(/does not carry render/);
  });

  it('at claim, a payload that no longer fits and an unknown kind go dead with the reason; the handler never sees them', async () => {
    const stale = store.enqueue({ queue: 'thumbs', kind: 'render', payload: { path: '/b.fits' } }).job;
    const alien = store.enqueue({
      queue: 'thumbs',
      kind: 'restyle',
      payload: { path: '/c.fits', planes: 1 },
    }).job;
    const good = db.write((c) => Render.enqueue(c, { path: '/d.fits', planes: 3 }, {}, Date.now())).job;
    const seen: unknown[] = [];
    const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
    const metrics = queueMetrics(registry, ['thumbs']);
    store = new SqliteQueueStore(db, { metrics });
    const { log, lines } = captureLog('warn');
    const w = runWorker({
      db,
      store,
      metrics,
      log,
      type: Render,
      signal: ac.signal,
      pollMs: 10,
      maxPollMs: 50,
      handler: async (job) => {
        seen.push(job.payload);
        return { planes: job.payload.planes * 2 };
      },
    });
    await waitFor(
      () => [stale, alien, good].every((j) => ['dead', 'done'].includes(store.get(j.id)!.state)),
      {
        what: 'all settled',
      },
    );
    expect(store.get(stale.id)).toMatchObject({ state: 'dead' });
    expect(store.get(stale.id)?.lastError).toMatch(/thumbs render: bad payload \(planes: /);
    expect(store.get(alien.id)).toMatchObject({ state: 'dead' });
    expect(store.get(alien.id)?.lastError).toMatch(/no handler for kind "restyle"/);
    expect(store.get(good.id)).toMatchObject({ state: 'done', result: { planes: 6 } });
    expect(seen).toEqual([{ path: '/d.fits', planes: 3 }]);
    ac.abort();
    expect(await w).toMatchObject({ done: 1, dead: 2 });
    // Each is told to the operator with its job and reason, and counted as dead.
    const told = lines.filter((l) => l.msg === 'job payload does not fit its type: dead');
    expect(told.map((l) => [l.level, l.component, l.queue, l.jobId])).toEqual([
      ['error', 'queue-worker', 'thumbs', stale.id],
      ['error', 'queue-worker', 'thumbs', alien.id],
    ]);
    expect((told[0].err as { message: string }).message).toMatch(/thumbs render: bad payload \(planes: /);
    expect((told[1].err as { message: string }).message).toMatch(/no handler for kind "restyle"/);
    const outcomes = (await registry.getSingleMetric('contimg_queue_outcomes_total')!.get()).values;
    expect(
      outcomes.filter((v) => v.labels.queue === 'thumbs').map((v) => [v.labels.outcome, v.value]),
    ).toEqual(
      expect.arrayContaining([
        ['dead', 2],
        ['done', 1],
      ]),
    );
  });

  it('a claim that buries an expired last attempt whose payload no longer fits counts it dead and logs it', async () => {
    const { job } = store.enqueue({
      queue: 'thumbs',
      kind: 'render',
      maxAttempts: 1,
      payload: { path: '/e.fits' },
    });
    // A holder that died: claimed the job's last attempt, never heartbeated.
    const [gone] = store.claim({ queue: 'thumbs', owner: 'dead-holder', leaseMs: 50 });
    expect(gone.id).toBe(job.id);
    await waitFor(() => Date.now() > gone.lease.expiresAt + 5, { what: 'lease expired' });
    const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
    const metrics = queueMetrics(registry, ['thumbs']);
    const { log, lines } = captureLog('debug');
    const seen: unknown[] = [];
    const w = runWorker({
      db,
      type: Render,
      metrics,
      log,
      signal: ac.signal,
      pollMs: 10,
      maxPollMs: 50,
      handler: async (j) => void seen.push(j.payload),
    });
    await waitFor(() => store.get(job.id)?.state === 'dead', { what: 'job buried' });
    expect(store.get(job.id)?.lastError).toMatch(/lease expired on the last attempt/);
    const outcomes = await registry.getSingleMetric('contimg_queue_outcomes_total')!.get();
    const dead = outcomes.values.find((v) => v.labels.queue === 'thumbs' && v.labels.outcome === 'dead');
    expect(dead?.value).toBe(1);
    const told = lines.filter((l) => l.jobId === job.id && l.level === 'warn');
    expect(told).toHaveLength(1);
    expect(told[0].msg).toBe(
      'claim buried a job whose last attempt lost its holder (dead); its payload does not fit its type',
    );
    expect((told[0].err as { message: string }).message).toMatch(/thumbs render: bad payload \(planes: /);
    ac.abort();
    expect(await w).toMatchObject({ claimed: 0 });
    expect(seen).toEqual([]);
  });
});
