// `contimg thumbnails render-all`: the daemon's discovery and render path run once in the foreground, with
// no settle wait: every images row matching the globs gets its thumbnails, then the command returns.
import type { Clock } from '../../lib/clock.js';
import type { Config } from '../../lib/config/index.js';
import type { Db } from '../../lib/db/index.js';
import type { Logger } from '../../lib/log.js';
import { Registry } from '../../lib/metrics.js';
import { SqliteQueueStore, Worker } from '../../lib/queue/index.js';
import { Discovery } from './discovery.js';
import { thumbnailMetrics } from './metrics.js';
import { RenderPool } from './pool.js';
import { presetLooks, presetOptions } from './presets.js';
import { QUEUE, renderWorker } from './render-job.js';

export interface RenderAllOptions {
  config: Config;
  state: Db;
  pipeline: Db;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  onProgress?: (p: { done: number; total: number; failed: number }) => void;
}

export async function renderAll(
  o: RenderAllOptions,
): Promise<{ total: number; done: number; failed: number }> {
  const cfg = o.config.thumbnailWorker;
  const metrics = thumbnailMetrics(new Registry());
  const presets = presetOptions(cfg);
  const looks = presetLooks(cfg);
  const discovery = new Discovery({
    state: o.state,
    pipeline: o.pipeline,
    clock: o.clock,
    metrics,
    variants: Object.keys(presets),
    looks,
    includeGlobs: cfg.includeGlobs,
    settleMs: 0,
    maxAttempts: 1,
    renderTimeoutMs: cfg.renderTimeoutS * 1000,
  });
  discovery.rescanAll();
  const { enqueued } = discovery.tick();
  const store = new SqliteQueueStore(o.state, { clock: o.clock });
  const pool = new RenderPool(cfg.concurrency, o.log);
  const ac = new AbortController();
  o.signal.addEventListener('abort', () => ac.abort(), { once: true });
  const worker = new Worker({
    db: o.state,
    store,
    ...renderWorker({
      state: o.state,
      pool,
      clock: o.clock,
      log: o.log,
      metrics,
      outputDir: cfg.outputDir,
      presets,
      looks,
    }),
    signal: ac.signal,
    concurrency: cfg.concurrency,
    leaseMs: cfg.leaseS * 1000,
    pollMs: 50,
    maxPollMs: 200,
    log: o.log,
    clock: o.clock,
  });
  const running = worker.run();
  const progress = setInterval(() => {
    const s = worker.summary;
    const finished = s.done + s.dead + s.retried;
    o.onProgress?.({ done: finished, total: enqueued, failed: s.dead });
    const open = store.stats().find((q) => q.queue === QUEUE);
    if (!open || open.counts.queued + open.counts.running === 0) ac.abort();
  }, 100);
  try {
    await running;
  } finally {
    clearInterval(progress);
    await pool.close();
  }
  const s = worker.summary;
  o.onProgress?.({ done: s.done + s.dead, total: enqueued, failed: s.dead });
  return { total: enqueued, done: s.done, failed: s.dead };
}
