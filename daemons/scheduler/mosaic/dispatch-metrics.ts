// The mosaic dispatcher's series (prefix contimg_mosaic_; the queue's own are contimg_queue_*{queue="mosaic"}).
// Declared once per registry (`once`): the planner's series live in its own file.
import { Counter, Gauge, Histogram, once, type Registry } from '../../../lib/metrics.js';
import { MOSAIC_TIERS } from '../../../lib/mosaic/manifest.js';

/** builds_total's outcomes: the attempt row's outcome words, `ok` for a built mosaic. */
export const BUILD_OUTCOMES = [
  'ok',
  'timeout',
  'oom',
  'io',
  'validation',
  'build_error',
  'crashed',
  'spawn_error',
  'bad_result',
  'cancelled',
  'failed',
  'aborted',
] as const;
export type BuildOutcome = (typeof BUILD_OUTCOMES)[number];

export const PAUSE_REASONS = ['operator', 'disk_output', 'disk_scratch'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

export interface DispatchMetrics {
  builds: Counter<'tier' | 'outcome'>;
  duration: Histogram<'tier'>;
  peakRss: Gauge<'tier'>;
  inFlight: Gauge;
  estMemory: Gauge<'tier'>;
  paused: Gauge<'reason'>;
  slurmPending: Histogram;
}

const P = 'contimg_mosaic_';

export function dispatchMetrics(registry: Registry): DispatchMetrics {
  const r = [registry];
  const m: DispatchMetrics = {
    builds: once(
      registry,
      `${P}builds_total`,
      () =>
        new Counter({
          name: `${P}builds_total`,
          help: 'Finished mosaic build attempts by tier and outcome (ok = built).',
          labelNames: ['tier', 'outcome'],
          registers: r,
        }),
    ),
    duration: once(
      registry,
      `${P}build_duration_seconds`,
      () =>
        new Histogram({
          name: `${P}build_duration_seconds`,
          help: 'Wall time of mosaic build attempts, spawn to end.',
          labelNames: ['tier'],
          buckets: [30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400],
          registers: r,
        }),
    ),
    peakRss: once(
      registry,
      `${P}build_peak_rss_bytes`,
      () =>
        new Gauge({
          name: `${P}build_peak_rss_bytes`,
          help: "Peak RSS the last built mosaic's builder reported, by tier.",
          labelNames: ['tier'],
          registers: r,
        }),
    ),
    inFlight: once(
      registry,
      `${P}builds_in_flight`,
      () =>
        new Gauge({
          name: `${P}builds_in_flight`,
          help: 'Mosaic builds running now (claimed or adopted).',
          registers: r,
        }),
    ),
    estMemory: once(
      registry,
      `${P}est_memory_bytes`,
      () =>
        new Gauge({
          name: `${P}est_memory_bytes`,
          help: "The planner's memory estimate of the last dispatched build, by tier.",
          labelNames: ['tier'],
          registers: r,
        }),
    ),
    paused: once(
      registry,
      `${P}dispatch_paused`,
      () =>
        new Gauge({
          name: `${P}dispatch_paused`,
          help: 'Whether mosaic dispatch is paused, by reason (operator, disk_output, disk_scratch).',
          labelNames: ['reason'],
          registers: r,
        }),
    ),
    slurmPending: once(
      registry,
      `${P}slurm_pending_seconds`,
      () =>
        new Histogram({
          name: `${P}slurm_pending_seconds`,
          help: 'Time mosaic builds waited in the Slurm queue before they ran.',
          buckets: [1, 5, 15, 60, 300, 900, 3600],
          registers: r,
        }),
    ),
  };
  for (const tier of MOSAIC_TIERS) {
    for (const outcome of BUILD_OUTCOMES) m.builds.inc({ tier, outcome }, 0);
    m.estMemory.set({ tier }, 0);
  }
  for (const reason of PAUSE_REASONS) m.paused.set({ reason }, 0);
  m.inFlight.set(0);
  return m;
}
