// The thumbnail worker's body: discovery and reconcile loops feed render jobs into the platform queue; a
// queue worker claims them with leases (two processes never render one row) and renders in a worker-thread
// pool so /metrics and /ws stay responsive. Background loops log, count, back off and continue.
import fs from 'node:fs';
import chokidar from 'chokidar';
import type { BackoffPolicy } from '../../lib/backoff.js';
import type { Config } from '../../lib/config/index.js';
import type { DaemonDeps, DaemonRun } from '../../lib/daemon/types.js';
import { ValidationError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { startLoop } from '../../lib/loop.js';
import { pagingFrom } from '../../lib/paging.js';
import {
  queueMetrics,
  runWorker,
  SqliteQueueStore,
  type JsonObject,
  type WorkerOptions,
} from '../../lib/queue/index.js';
import { listThumbnails } from './admin.js';
import { discoverMosaics, MOSAIC_KIND, MOSAIC_QUEUE, mosaicWorker } from './mosaic-job.js';
import { mosaicQaMetrics } from './mosaic-metrics.js';
import { Discovery } from './discovery.js';
import { metadataForThumbnail } from './meta-cache.js';
import { thumbnailMetrics, type ThumbnailMetrics } from './metrics.js';
import { RenderPool } from './pool.js';
import { presetLooks, presetOptions } from './presets.js';
import { DiskGate, sweepStaleTemps } from './disk.js';
import { ClaimGate } from './gate.js';
import { EVENT_TOPIC, KIND, QUEUE, renderWorker } from './render-job.js';

type Section = Config['thumbnailWorker'];

export function retryPolicyOf(cfg: Section): BackoffPolicy {
  return {
    strategy: 'exponential',
    baseMs: cfg.backoffBaseS * 1000,
    maxMs: cfg.backoffMaxS * 1000,
    jitter: 0.2,
  };
}

function registerRoutes(deps: DaemonDeps, metrics: ThumbnailMetrics, cfg: Section, pool: RenderPool): void {
  deps.http.route('GET', '/api/thumbnails', ({ url }) => {
    const status = url.searchParams.get('status');
    const { limit, offset } = pagingFrom(url.searchParams, { defaultLimit: 100, maxLimit: 1000 });
    return deps.state.read((c) => listThumbnails(c, { status, limit, offset }));
  });
  deps.http.route('GET', '/api/thumbnails/:id/metadata', ({ params }) => {
    const id = Number(params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError('id must be a thumbnail row id');
    return metadataForThumbnail(deps.state, pool, metrics, id, cfg.maxHeaderBlocks);
  });
}

/** Discovery (with a full images pass every reconcileS), reconcile and the queue's gauges, on lib/loop. */
function startLoops(
  deps: DaemonDeps,
  discovery: Discovery,
  disk: DiskGate,
  store: SqliteQueueStore,
  metrics: ThumbnailMetrics,
  signal: AbortSignal,
): Promise<void>[] {
  const cfg = deps.config.thumbnailWorker;
  // Each loop logs a failed pass itself and backs off; the counter is the daemon's.
  const start = (loop: 'discovery' | 'reconcile' | 'gauges', everyMs: number, fn: () => void) =>
    startLoop({
      name: loop,
      everyMs,
      signal,
      clock: deps.clock,
      log: deps.log,
      onError: () => metrics.loopErrors.inc({ loop }),
      tick: fn,
    }).done;
  let passes = 0;
  const fullEvery = Math.max(1, Math.round(cfg.reconcileS / cfg.pollS));
  const discover = (): void => {
    if (++passes % fullEvery === 0) discovery.rescanAll();
    discovery.tick();
    discoverMosaics(deps.state, deps.clock, {
      maxAttempts: cfg.maxAttempts,
      timeoutMs: cfg.mosaicQa.timeoutS * 1000,
    });
    disk.check();
  };
  const reconcile = (): void => {
    const swept = sweepStaleTemps(cfg.outputDir, 2 * cfg.renderTimeoutS * 1000, deps.clock.now());
    if (swept > 0) deps.log.info({ removed: swept }, 'removed temp PNGs left by interrupted writes');
    const r = discovery.reconcile();
    metrics.reconcilePasses.inc({ found: r.changed ? 'changed' : r.missing ? 'missing' : 'unchanged' });
  };
  // The queue's gauges (contimg_queue_*) stay current while the worker is paused too.
  const gauges = (): void => void store.refreshGauges([QUEUE, MOSAIC_QUEUE]);
  return [
    start('discovery', cfg.pollS * 1000, discover),
    start('reconcile', cfg.reconcileS * 1000, reconcile),
    start('gauges', 5000, gauges),
  ];
}

/** chokidar only hints: a change to a path that has rows is re-checked now; discovery stays the truth. */
function startWatcher(dir: string, discovery: Discovery, metrics: ThumbnailMetrics, deps: DaemonDeps) {
  return chokidar.watch(dir, { ignoreInitial: true }).on('all', (ev, p) => {
    if (ev !== 'add' && ev !== 'change') return;
    try {
      discovery.touched(p);
    } catch (e) {
      metrics.loopErrors.inc({ loop: 'watch' });
      deps.log.warn({ err: e, path: p }, 'watch hint failed');
    }
  });
}

/** The render pool, its thread gauge, and the `threads` pause when every thread is stuck. */
function renderPool(size: number, log: Logger, metrics: ThumbnailMetrics, gate: ClaimGate): RenderPool {
  return new RenderPool(size, log, {
    onCapacity: (c) => {
      metrics.threads.set({ state: 'idle' }, c.idle);
      metrics.threads.set({ state: 'busy' }, c.busy);
      metrics.threads.set({ state: 'stuck' }, c.stuck);
      gate.set(
        'threads',
        c.stuck < c.size
          ? null
          : `all ${c.size} render thread(s) are stuck in a system call (a hung mount?); claiming paused`,
        { stuck: c.stuck, size: c.size },
      );
    },
  });
}

/**
 * The queue worker runs while the gate is open; a pause stops it (in-flight renders finish, or are handed
 * back after the drain) and the loop waits for the gate to open again. Resolves once `signal` aborts.
 */
async function workWhileOpen<P extends JsonObject, C>(
  deps: DaemonDeps,
  gate: ClaimGate,
  signal: AbortSignal,
  worker: Omit<WorkerOptions<P, C>, 'signal'>,
): Promise<void> {
  const cfg = deps.config.thumbnailWorker;
  while (!signal.aborted) {
    await gate.waitOpen(signal);
    if (signal.aborted) break;
    const paused = new AbortController();
    const stop = (): void => paused.abort();
    signal.addEventListener('abort', stop, { once: true });
    const unsubscribe = gate.onClose(stop);
    deps.setStatus(`rendering with ${cfg.concurrency} thread(s)`);
    try {
      await runWorker({ ...worker, signal: paused.signal });
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', stop);
    }
    if (!signal.aborted) deps.setStatus(`paused: ${Object.values(gate.reasons()).join('; ')}`);
  }
}

/** outputDir must exist for the disk gate's statfs; a failure here shows again, with its reason, on render. */
function ensureOutputDir(dir: string, log: Logger): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    log.error({ err: e, outputDir: dir }, 'cannot create outputDir');
  }
}

export const run: DaemonRun = async (deps, signal) => {
  const cfg = deps.config.thumbnailWorker;
  const log = deps.log.child({ component: 'thumbnail-worker' });
  const metrics = thumbnailMetrics(deps.registry);
  const qm = queueMetrics(deps.registry, [QUEUE, MOSAIC_QUEUE], [KIND, MOSAIC_KIND]);
  const presets = presetOptions(cfg);
  const looks = presetLooks(cfg);
  const retryPolicy = retryPolicyOf(cfg);
  const store = new SqliteQueueStore(deps.state, { clock: deps.clock, metrics: qm, retryPolicy });
  const discovery = new Discovery({
    state: deps.state,
    pipeline: deps.pipeline,
    clock: deps.clock,
    metrics,
    variants: Object.keys(presets),
    looks,
    includeGlobs: cfg.includeGlobs,
    settleMs: cfg.settleS * 1000,
    maxAttempts: cfg.maxAttempts,
    renderTimeoutMs: cfg.renderTimeoutS * 1000,
  });
  ensureOutputDir(cfg.outputDir, log);
  const gate = new ClaimGate({ state: deps.state, clock: deps.clock, log, metrics, topic: EVENT_TOPIC });
  const disk = new DiskGate({ gate, metrics, outputDir: cfg.outputDir, minFreeBytes: cfg.minFreeMb * 1e6 });
  disk.check();
  const pool = renderPool(cfg.concurrency, log, metrics, gate);
  // Mosaics are graded in a pool of their own (one thread, started on the first mosaic): a grading reads
  // gigabytes for minutes, and image thumbnails must not wait behind it.
  const mosaicPool = new RenderPool(1, log);
  registerRoutes(deps, metrics, cfg, pool);
  deps.addReadinessCheck('render-pool', () => {
    const c = pool.capacity();
    return c.stuck < c.size ? { ok: true } : { ok: false, detail: `all ${c.size} render threads stuck` };
  });
  const watcher = cfg.watchDir ? startWatcher(cfg.watchDir, discovery, metrics, deps) : undefined;
  const loops = startLoops(deps, discovery, disk, store, metrics, signal);
  log.info(
    { presets: Object.keys(presets), concurrency: cfg.concurrency, outputDir: cfg.outputDir },
    'thumbnail worker started',
  );
  const render = renderWorker({
    state: deps.state,
    pool,
    clock: deps.clock,
    log,
    metrics,
    outputDir: cfg.outputDir,
    presets,
    looks,
    disk,
  });
  const common = {
    db: deps.state,
    store,
    leaseMs: cfg.leaseS * 1000,
    pollMs: Math.min(1000, cfg.pollS * 1000),
    maxPollMs: Math.max(1000, cfg.pollS * 1000),
    drainMs: deps.timeouts.drainMs,
    hardStop: deps.hardStop,
    retryPolicy,
    log,
    clock: deps.clock,
    metrics: qm,
  };
  const grader = mosaicWorker({
    state: deps.state,
    pool: mosaicPool,
    clock: deps.clock,
    log,
    metrics: mosaicQaMetrics(deps.registry),
    outputDir: cfg.outputDir,
    qa: cfg.mosaicQa,
    stripBytes: cfg.stripBytes,
    pngLevel: cfg.pngLevel,
    pb: deps.config.scheduler.mosaic.pb,
    disk,
  });
  try {
    await Promise.all([
      workWhileOpen(deps, gate, signal, {
        ...common,
        ...render,
        concurrency: cfg.concurrency,
        jobTimeoutMs: cfg.renderTimeoutS * 1000,
      }),
      workWhileOpen(deps, gate, signal, {
        ...common,
        ...grader,
        concurrency: 1,
        jobTimeoutMs: cfg.mosaicQa.timeoutS * 1000,
      }),
    ]);
  } finally {
    await Promise.all(loops);
    await watcher?.close();
    await Promise.all([pool.close(), mosaicPool.close()]);
  }
};
