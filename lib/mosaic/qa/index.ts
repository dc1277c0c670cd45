// Mosaic QA (docs/thumbnail-worker.md, "Mosaic QA"): a streamed measurement of a mosaic and its weight map,
// then the grading rules. Pure of the database; the thumbnail worker runs it in a render thread.
import { measureMosaic, type Measurement, type MeasureOptions } from './measure.js';
import { DEFAULT_THRESHOLDS, judge, type QaThresholds, type QaVerdict } from './rules.js';

export * from './rules.js';
export { measureMosaic, type Measurement, type MeasureOptions, type ReferenceMeasure } from './measure.js';
export * from './references.js';
export { skyGridOf, type SkyGrid } from './sky.js';

export interface MosaicQa extends QaVerdict {
  metrics: Measurement;
}

export function gradeMosaic(
  mosaicPath: string,
  weightsPath: string,
  opts: MeasureOptions & { thresholds?: QaThresholds },
): MosaicQa {
  const metrics = measureMosaic(mosaicPath, weightsPath, opts);
  return { metrics, ...judge(metrics, opts.thresholds ?? DEFAULT_THRESHOLDS) };
}
