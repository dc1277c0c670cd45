// Config section `thumbnailWorker` (owned by daemons/thumbnail-worker). Presets name render looks; every
// image row matching includeGlobs gets one thumbnail per preset. Defaults are the default look of
// lib/fits/look.ts (512 px, zscale contrast 0.2, linear, inferno, NaN transparent, north up), the one
// definition the CLI shares (docs/thumbnail-worker.md, "The look").
import { z } from 'zod';
import { DEFAULT_LOOK as L, DEFAULT_MAX_PIXELS } from '../../fits/look.js';
import { dataPath, pathField, portField, seconds, type SchemaContext } from '../fields.js';
import { DAEMONS } from '../../daemon/table.js';

const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'expected #RRGGBB');

export const thumbnailPresetSchema = z.strictObject({
  /** Longest side of the PNG in pixels. */
  maxDim: z.number().int().min(16).max(4096).default(L.maxDim),
  interval: z.enum(['zscale', 'percentile', 'minmax']).default(L.interval),
  /** zscale contrast; astropy's default is 0.25, the DSA quicklooks use 0.2. */
  contrast: z.number().min(0).max(10).default(L.contrast),
  lowPercent: z.number().min(0).max(100).default(L.lowPercent),
  highPercent: z.number().min(0).max(100).default(L.highPercent),
  /** linear by default: zscale limits already span the noise, and asinh would lift it into the bright half. */
  stretch: z.enum(['linear', 'sqrt', 'asinh', 'log']).default(L.stretch),
  /** AsinhStretch a (0.1) or LogStretch a (1000); astropy's defaults when absent. */
  stretchA: z.number().positive().optional(),
  colormap: z.enum(['gray', 'inferno', 'viridis', 'magma']).default(L.colormap),
  /** 'transparent' (default) or an opaque #RRGGBB colour for pixels without data. */
  nan: z.union([z.literal('transparent'), hexColor]).default(L.nan),
  downsample: z.enum(['mean', 'max', 'nearest']).default(L.downsample),
  /** Where zscale limits are computed: on the thumbnail grid (fast) or the full plane (astropy-exact). */
  limitsOn: z.enum(['thumbnail', 'full']).default(L.limitsOn),
  /** Which plane of a cube: the first (default, as the original) or Stokes I. */
  plane: z.enum(['first', 'stokesI']).default(L.plane),
});
export type ThumbnailPreset = z.infer<typeof thumbnailPresetSchema>;

/**
 * Mosaic QA and thumbnails (docs/thumbnail-worker.md, "Mosaic QA"): every `mosaics` row the builder left
 * `built` is rendered (variant `mosaic`) and graded against these thresholds.
 */
export const mosaicQaSection = (ctx: SchemaContext) =>
  z
    .strictObject({
      /** The inner region: pixels with W ≥ innerWeightFraction · max W (W = the builder's Σ A²/σ², Jy⁻²). */
      innerWeightFraction: z.number().gt(0).lte(1).default(0.5),
      /** At most this many values for each median (every k-th inner pixel, k fixed by the mosaic's size). */
      sampleMax: z.number().int().min(1000).default(2_000_000),
      noiseRatioWarn: z.number().positive().default(1.3),
      noiseRatioFail: z.number().positive().default(2.0),
      coverageWarn: z.number().min(0).max(1).default(0.95),
      coverageFail: z.number().min(0).max(1).default(0.8),
      /** CSV `name,ra_deg,dec_deg,s14_jy[,alpha]`: reference sources beside the pointing monitor's calibrators. */
      referenceSourcesFile: pathField(ctx).optional(),
      offsetWarnBeams: z.number().positive().default(0.2),
      offsetFailBeams: z.number().positive().default(0.5),
      /** |measured/expected − 1| of reference fluxes above this warns (0.15: outside 0.85–1.15). */
      fluxWarn: z.number().positive().default(0.15),
      fluxFail: z.number().positive().default(0.3),
      /** Longest side of the mosaic PNG (aspect ratio kept; the short side at least 64 px). */
      mosaicMaxDim: z.number().int().min(64).max(8192).default(2048),
      /** Mosaics with more pixels than this are graded `fail` (TOO_LARGE) without reading the data. */
      maxPixels: z.number().int().min(1).default(400_000_000),
      /** A grading taking longer than this (render + QA, in its own thread) is aborted and retried. */
      timeoutS: seconds(1800, 1),
    })
    .refine((c) => c.noiseRatioFail >= c.noiseRatioWarn, 'noiseRatioFail must be ≥ noiseRatioWarn')
    .refine((c) => c.coverageFail <= c.coverageWarn, 'coverageFail must be ≤ coverageWarn')
    .refine((c) => c.offsetFailBeams >= c.offsetWarnBeams, 'offsetFailBeams must be ≥ offsetWarnBeams')
    .refine((c) => c.fluxFail >= c.fluxWarn, 'fluxFail must be ≥ fluxWarn');

export const DEFAULT_INCLUDE_GLOBS = [
  '*-image.fits',
  '*-image-pb.fits',
  '*-image-pbcor.fits',
  '*.image.fits',
  '*.image.pbcor.fits',
  '*.pbcor.fits',
];
// Residuals are optional (binding decision 10): add '*-residual.fits' and '*.residual.fits' to includeGlobs.

export function thumbnailWorkerSection(ctx: SchemaContext) {
  return z.strictObject({
    port: portField(DAEMONS['thumbnail-worker'].port),
    outputDir: dataPath(ctx, 'thumbnails'),
    /** Preset name → look. Names become part of the PNG file name: letters, digits, _ and - only. */
    presets: z
      .record(
        z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'preset names: 1–32 of A-Z a-z 0-9 _ -'),
        thumbnailPresetSchema,
      )
      .refine((r) => Object.keys(r).length > 0, 'at least one preset')
      .default({ q512: thumbnailPresetSchema.parse({}) }),
    /** Basename globs (* and ?) of image paths that get thumbnails; psf, model, pb and dirty are left out. */
    includeGlobs: z.array(z.string().min(1)).min(1).default(DEFAULT_INCLUDE_GLOBS),
    /** Optional folder to watch for faster pick-up; only paths that have an images row are rendered. */
    watchDir: pathField(ctx).optional(),
    /** Render threads (worker_threads); at most cores − 1 on the imaging host. */
    concurrency: z.number().int().min(1).max(16).default(1),
    pollS: seconds(5, 0.05),
    /** A file must be unmodified for this long (and unchanged between two looks) before it is read. */
    settleS: seconds(10),
    /** How often every done thumbnail's source is stat()ed again to catch rewrites and deletions. */
    reconcileS: seconds(600, 0.05),
    /** Render lease; renewed every leaseS/3 while a render runs. */
    leaseS: seconds(120, 0.1),
    maxAttempts: z.number().int().min(1).default(4),
    /** Retry delay backoffBaseS × 2^(attempt−1), ±20 % jitter, capped at backoffMaxS. */
    backoffBaseS: seconds(30),
    backoffMaxS: seconds(1800),
    /** A render taking longer than this is aborted and retried. */
    renderTimeoutS: seconds(120, 1),
    /** Planes with more pixels than this are skipped (TOO_LARGE) without reading the data. */
    maxPixels: z.number().int().min(1).default(DEFAULT_MAX_PIXELS),
    /**
     * Claiming pauses while outputDir has less free space than this (and after a write met ENOSPC, until
     * space has grown again); a render deferred by a full disk spends no attempt.
     */
    minFreeMb: z.number().min(0).default(1024),
    maxHeaderBlocks: z.number().int().min(1).default(2000),
    stripBytes: z
      .number()
      .int()
      .min(65536)
      .default(2 * 1024 * 1024),
    pngLevel: z.number().int().min(0).max(9).default(6),
    mosaicQa: mosaicQaSection(ctx).prefault({}),
  });
}
