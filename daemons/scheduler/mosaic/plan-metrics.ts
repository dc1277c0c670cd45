// The planner's and the staleness watchdog's series (contimg_mosaic_*; the builds' series are the
// dispatcher's). Registered with `once`, so another component may share a name without a clash.
import { Counter, Gauge, once, type Registry } from '../../../lib/metrics.js';

export interface MosaicPlanMetrics {
  plans: Counter<'tier' | 'outcome'>;
  rejected: Counter<'tier' | 'reason'>;
  lastBuiltWindowEnd: Gauge<'tier' | 'strip'>;
  lag: Gauge<'tier'>;
}

export function mosaicPlanMetrics(registry: Registry): MosaicPlanMetrics {
  return {
    plans: once(
      registry,
      'contimg_mosaic_plans_total',
      () =>
        new Counter({
          name: 'contimg_mosaic_plans_total',
          help: 'Mosaic units planned, by tier and outcome (planned, duplicate, superseded, late, empty, too_large).',
          labelNames: ['tier', 'outcome'],
          registers: [registry],
        }),
    ),
    rejected: once(
      registry,
      'contimg_mosaic_inputs_rejected_total',
      () =>
        new Counter({
          name: 'contimg_mosaic_inputs_rejected_total',
          help: 'Images turned away from newly written mosaic plans, by tier and reason.',
          labelNames: ['tier', 'reason'],
          registers: [registry],
        }),
    ),
    lastBuiltWindowEnd: once(
      registry,
      'contimg_mosaic_last_built_window_end_seconds',
      () =>
        new Gauge({
          name: 'contimg_mosaic_last_built_window_end_seconds',
          help: 'Observation end (Unix s) of the newest built mosaic, by tier and strip.',
          labelNames: ['tier', 'strip'],
          registers: [registry],
        }),
    ),
    lag: once(
      registry,
      'contimg_mosaic_lag_seconds',
      () =>
        new Gauge({
          name: 'contimg_mosaic_lag_seconds',
          help: 'Now minus the newest built mosaic observation end of the tier (any strip), in seconds.',
          labelNames: ['tier'],
          registers: [registry],
        }),
    ),
  };
}
