// The thumbnail worker's mosaic series (docs/thumbnail-worker.md, "Mosaic QA"): gradings by tier, status and
// grade, the last noise ratio and dynamic range per tier, and how long a grading (render + QA) takes. The
// grading queue's own counts are lib/queue's contimg_queue_*{queue="mosaic-qa"}.
import { MOSAIC_TIERS } from '../../lib/mosaic/manifest.js';
import { Counter, Gauge, Histogram, type Registry } from '../../lib/metrics.js';

const P = 'contimg_mosaic_qa_';

export function mosaicQaMetrics(registry: Registry) {
  const r = [registry];
  const m = {
    total: new Counter({
      name: `${P}total`,
      help: 'Mosaics graded, by tier, status (pass, warn, fail, unknown) and grade (dynamic range class).',
      labelNames: ['tier', 'status', 'grade'],
      registers: r,
    }),
    noiseRatio: new Gauge({
      name: `${P}noise_ratio`,
      help: 'Measured inner noise / noise expected from the weight map, of the last graded mosaic per tier.',
      labelNames: ['tier'],
      registers: r,
    }),
    dynamicRange: new Gauge({
      name: `${P}dynamic_range`,
      help: 'Peak over the inner region / inner noise, of the last graded mosaic per tier.',
      labelNames: ['tier'],
      registers: r,
    }),
    seconds: new Histogram({
      name: `${P}seconds`,
      help: 'Time to grade one mosaic: render the PNG and measure the QA (two passes over mosaic and weights).',
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers: r,
    }),
  };
  for (const tier of MOSAIC_TIERS)
    for (const status of ['pass', 'warn', 'fail', 'unknown'])
      for (const grade of ['excellent', 'good', 'marginal', 'poor', 'unknown'])
        m.total.inc({ tier, status, grade }, 0);
  return m;
}

export type MosaicQaMetrics = ReturnType<typeof mosaicQaMetrics>;
