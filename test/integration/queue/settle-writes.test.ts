// How the worker writes the ends of attempts (settle.ts): jobs that finish together are recorded in one write
// transaction, and a settle that arrives while an earlier one waits for the write lock is written after it,
// not left behind until some later settle comes along.
import { describe, expect, it } from 'vitest';
import { createRegistry, dbMetrics, type Registry } from '../../../lib/metrics.js';
import { SqliteQueueStore, Worker, type WorkerOptions } from '../../../lib/queue/index.js';
import { useQueueDb } from '../../fixtures/queue/queue-db.js';
import { waitFor } from '../../helpers/wait.js';

let registry: Registry;
const q = useQueueDb({
  open: () => {
    registry = createRegistry({ daemon: 'test', defaultMetrics: false });
    // A short stall threshold: a write waiting longer shows in health().
    return { metrics: dbMetrics(registry, ['state']), writeStallMs: 300 };
  },
  store: (db) => new SqliteQueueStore(db),
  domain: false,
});

/** Write transactions committed or rolled back so far (contimg_db_tx_seconds{kind="write"} count). */
async function writeTransactions(): Promise<number> {
  type Sample = { metricName?: string; value: number; labels: Record<string, unknown> };
  const values = (await registry.getSingleMetric('contimg_db_tx_seconds')!.get()).values as Sample[];
  return values.find((v) => v.metricName === 'contimg_db_tx_seconds_count' && v.labels.kind === 'write')!
    .value;
}

/** Handlers that each run until their job's finish(id) is called. */
function gates(): { handler: WorkerOptions['handler']; finish: (id: number) => void } {
  const waiting = new Map<number, () => void>();
  return {
    handler: (job) => new Promise((resolve) => waiting.set(job.id, () => resolve(`finished ${job.id}`))),
    finish: (id) => waiting.get(id)!(),
  };
}

function worker(handler: WorkerOptions['handler']): Worker {
  return new Worker({ db: q.db, store: q.store, queue: 'q', signal: q.ac.signal, concurrency: 3, handler });
}

describe('settle writes', () => {
  it('jobs that finish together are recorded in one write transaction', async () => {
    const jobs = [1, 2, 3].map((i) => q.store.enqueue({ queue: 'q', kind: 'k', payload: { i } }).job);
    let finishAll: () => void = () => {};
    const together = new Promise<void>((r) => (finishAll = r));
    const w = worker(async (job) => {
      await together;
      return `finished ${job.id}`;
    });
    expect(w.fill()).toBe(3);
    const before = await writeTransactions();
    finishAll();
    await waitFor(() => w.inFlight === 0, { what: 'all three settled' });
    expect(await writeTransactions()).toBe(before + 1);
    for (const j of jobs)
      expect(q.store.get(j.id)).toMatchObject({ state: 'done', result: `finished ${j.id}` });
  });

  it('a settle that arrives while another waits for the lock is written after it, not left behind', async () => {
    const [a, b] = [1, 2].map((i) => q.store.enqueue({ queue: 'q', kind: 'k', payload: { i } }).job);
    const g = gates();
    const w = worker(g.handler);
    expect(w.fill()).toBe(2);
    await q.holdLock();
    g.finish(a.id);
    // a's settle is waiting for the lock (long enough to count as a stall): b's arrives during that write.
    await waitFor(() => !q.db.health().ok, { what: "a's settle waiting past the write budget" });
    g.finish(b.id);
    await q.releaseLock();
    await waitFor(() => w.inFlight === 0, { what: 'both settled' });
    expect(q.store.get(a.id)).toMatchObject({ state: 'done', result: `finished ${a.id}` });
    expect(q.store.get(b.id)).toMatchObject({ state: 'done', result: `finished ${b.id}` });
    expect(w.summary).toMatchObject({ done: 2, errors: 0 });
  }, 30_000);
});
