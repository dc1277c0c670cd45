// What grading one mosaic does off the main thread (a render-pool thread): render the `mosaic` PNG with the
// image look (zscale 0.2, linear, inferno, NaN transparent, north up) at up to mosaicMaxDim on the long
// side, measure the QA from the mosaic and its weight map, and write the PNG atomically. Pure of the
// database; the job commits the result (daemons/thumbnail-worker/mosaic-job.ts).
import { fitsCodeOf, fitsError } from '../../lib/fits/errors.js';
import { fingerprintKey, statFingerprint } from '../../lib/fits/fingerprint.js';
import { DEFAULT_RENDER, renderThumbnail } from '../../lib/fits/render.js';
import {
  gradeMosaic,
  readReferenceFile,
  type MeasureOptions,
  type MosaicQa,
  type QaThresholds,
  type ReferenceSource,
} from '../../lib/mosaic/qa/index.js';
import { MOSAIC_VARIANT } from './mosaic-store.js';
import { pngPathFor, sha1 } from './presets.js';
import { writePng } from './render-task.js';

/** A mosaic PNG's short side is at least this (unless the mosaic itself is narrower). */
export const MOSAIC_MIN_DIM = 64;

export interface MosaicRequest {
  kind: 'mosaic';
  mosaicPath: string;
  weightsPath: string;
  outputDir: string;
  maxDim: number;
  maxPixels: number;
  stripBytes: number;
  pngLevel: number;
  innerWeightFraction: number;
  sampleMax: number;
  thresholds: QaThresholds;
  /** The calibrators (from the pointing monitor's table); the reference file is read here and added. */
  calibrators: ReferenceSource[];
  referenceSourcesFile: string | null;
  footprint: MeasureOptions['footprint'];
  beamDegFallback: number | null;
}

export interface MosaicOutput {
  fingerprint: { key: string; size: number; mtimeNs: string; ino: number };
  /** Null when the mosaic has no finite pixel to draw. */
  png: {
    path: string;
    bytes: number;
    width: number;
    height: number;
    vmin: number;
    vmax: number;
    nFinite: number;
    look: string;
    renderMs: number;
  } | null;
  qa: MosaicQa;
  seconds: number;
}

/** The look of mosaic PNGs: the image default, with the mosaic's own size limits. Part of the PNG name. */
export function mosaicLook(maxDim: number): string {
  return sha1(
    JSON.stringify({ look: 'image-default', ...DEFAULT_RENDER, maxDim, minDim: MOSAIC_MIN_DIM }),
  ).slice(0, 12);
}

function references(req: MosaicRequest, notes: string[]): ReferenceSource[] {
  if (!req.referenceSourcesFile) return req.calibrators;
  try {
    return [...req.calibrators, ...readReferenceFile(req.referenceSourcesFile)];
  } catch (e) {
    notes.push(`referenceSourcesFile unusable: ${(e as Error).message}`);
    return req.calibrators;
  }
}

export function runMosaic(req: MosaicRequest): MosaicOutput {
  const t0 = performance.now();
  const fp = statFingerprint(req.mosaicPath);
  const key = fingerprintKey(fp);
  const look = mosaicLook(req.maxDim);
  let png: MosaicOutput['png'] = null;
  try {
    const r = renderThumbnail(req.mosaicPath, {
      ...DEFAULT_RENDER,
      maxDim: req.maxDim,
      minDim: MOSAIC_MIN_DIM,
      maxPixels: req.maxPixels,
      stripBytes: req.stripBytes,
      pngLevel: req.pngLevel,
    });
    if (fingerprintKey(r.fingerprint) !== key)
      throw fitsError('SOURCE_CHANGED', `${req.mosaicPath} changed while it was graded`);
    const path = pngPathFor(req.outputDir, req.mosaicPath, MOSAIC_VARIANT, key, look);
    writePng(path, r.png);
    png = {
      path,
      bytes: r.png.length,
      width: r.width,
      height: r.height,
      vmin: r.vmin,
      vmax: r.vmax,
      nFinite: r.nFinite,
      look,
      renderMs: r.timings.total,
    };
  } catch (e) {
    // A mosaic with no finite pixel has nothing to draw; QA then says `unknown`. Anything else is a failure.
    if (fitsCodeOf(e) !== 'ALL_NONFINITE') throw e;
  }
  const notes: string[] = [];
  const qa = gradeMosaic(req.mosaicPath, req.weightsPath, {
    innerWeightFraction: req.innerWeightFraction,
    sampleMax: req.sampleMax,
    maxPixels: req.maxPixels,
    stripBytes: req.stripBytes,
    references: references(req, notes),
    footprint: req.footprint,
    beamDegFallback: req.beamDegFallback,
    thresholds: req.thresholds,
  });
  for (const n of notes)
    qa.reasons.push({
      rule: 'reference_file',
      value: null,
      threshold: null,
      level: 'not_measured',
      detail: n,
    });
  if (fingerprintKey(statFingerprint(req.mosaicPath)) !== key)
    throw fitsError('SOURCE_CHANGED', `${req.mosaicPath} changed while it was graded`);
  return {
    fingerprint: { key, size: fp.size, mtimeNs: fp.mtimeNs, ino: fp.ino },
    png,
    qa,
    seconds: (performance.now() - t0) / 1000,
  };
}
