// Every contimg_thumbnails_* series (listed in docs/thumbnail-worker.md), declared up front and initialised
// for the known label values so dashboards see zeros, not gaps. The render queue's own counts and age are
// lib/queue's contimg_queue_* series (queue="thumbnails"), not repeated here.
import { FITS_ERROR_CODES } from '../../lib/fits/errors.js';
import { Counter, Gauge, Histogram, type Registry } from '../../lib/metrics.js';
import { PAUSE_REASONS } from './gate.js';

const P = 'contimg_thumbnails_';

export const JOB_OUTCOMES = ['done', 'failed', 'skipped', 'retry', 'superseded', 'deferred'] as const;
export type ThumbOutcome = (typeof JOB_OUTCOMES)[number];
export const STAGES = [
  'settle',
  'header',
  'read_downsample',
  'statistics',
  'limits',
  'encode',
  'write',
  'total',
] as const;

export function thumbnailMetrics(registry: Registry) {
  const r = [registry];
  const m = {
    jobs: new Counter({
      name: `${P}jobs_total`,
      help: 'Finished render attempts by outcome (done, failed, skipped, retry, superseded, deferred = handed back without spending an attempt) and error code.',
      labelNames: ['outcome', 'code'],
      registers: r,
    }),
    renderSeconds: new Histogram({
      name: `${P}render_seconds`,
      help: 'Render time by stage (settle = file mtime → job start).',
      labelNames: ['stage'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    bytesRead: new Counter({
      name: `${P}bytes_read_total`,
      help: 'FITS bytes read by renders.',
      registers: r,
    }),
    pngBytes: new Histogram({
      name: `${P}png_bytes`,
      help: 'Size of written PNGs.',
      buckets: [1e3, 1e4, 5e4, 1e5, 2e5, 5e5, 1e6],
      registers: r,
    }),
    fitsErrors: new Counter({
      name: `${P}fits_errors_total`,
      help: 'Render failures by FITS error code.',
      labelNames: ['code'],
      registers: r,
    }),
    lastSuccess: new Gauge({
      name: `${P}last_success_timestamp_seconds`,
      help: 'When the last thumbnail was committed (Unix s).',
      registers: r,
    }),
    metaCache: new Counter({
      name: `${P}meta_cache_total`,
      help: 'FITS metadata lookups: hit (fingerprint matches), stale (file changed), miss (never parsed).',
      labelNames: ['result'],
      registers: r,
    }),
    discovered: new Counter({
      name: `${P}discovered_total`,
      help: 'Render jobs enqueued, by reason (new, changed source, restyle = a done thumbnail made with another look).',
      labelNames: ['reason'],
      registers: r,
    }),
    reconcilePasses: new Counter({
      name: `${P}reconcile_passes_total`,
      help: 'Reconcile passes that re-stat finished thumbnails, and what they found.',
      labelNames: ['found'],
      registers: r,
    }),
    paused: new Gauge({
      name: `${P}paused`,
      help: 'Claiming paused (1) by reason: disk (outputDir full), threads (every render thread stuck).',
      labelNames: ['reason'],
      registers: r,
    }),
    threads: new Gauge({
      name: `${P}render_threads`,
      help: 'Render threads by state: idle, busy, stuck (terminated but blocked in a system call; counts against concurrency).',
      labelNames: ['state'],
      registers: r,
    }),
    diskFree: new Gauge({
      name: `${P}disk_free_bytes`,
      help: 'Free bytes on the file system of outputDir (statfs, for unprivileged writers).',
      registers: r,
    }),
    loopErrors: new Counter({
      name: `${P}loop_errors_total`,
      help: 'Background loop failures (discovery, reconcile, gauges) that were logged and retried.',
      labelNames: ['loop'],
      registers: r,
    }),
  };
  for (const outcome of JOB_OUTCOMES) m.jobs.inc({ outcome, code: '' }, 0);
  for (const stage of STAGES) m.renderSeconds.zero({ stage });
  for (const code of FITS_ERROR_CODES) m.fitsErrors.inc({ code }, 0);
  for (const result of ['hit', 'miss', 'stale']) m.metaCache.inc({ result }, 0);
  for (const reason of ['new', 'changed', 'restyle']) m.discovered.inc({ reason }, 0);
  for (const found of ['unchanged', 'changed', 'missing']) m.reconcilePasses.inc({ found }, 0);
  for (const reason of PAUSE_REASONS) m.paused.set({ reason }, 0);
  for (const state of ['idle', 'busy', 'stuck']) m.threads.set({ state }, 0);
  for (const loop of ['discovery', 'reconcile', 'gauges', 'watch']) m.loopErrors.inc({ loop }, 0);
  return m;
}

export type ThumbnailMetrics = ReturnType<typeof thumbnailMetrics>;
