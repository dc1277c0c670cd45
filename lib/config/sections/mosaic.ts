// Config section `scheduler.mosaic` (owned by the scheduler's mosaic planner and dispatcher;
// docs/mosaicking.md): which images are eligible, the three tiers (quicklook, science, deep) with their triggers
// and limits, the output grid and primary beam, and the builder with its executor (local process group or
// Slurm job, the converter's executor field).
import { z } from 'zod';
import { cronProblem } from '../../cron.js';
import { dataPath, seconds, type SchemaContext } from '../fields.js';
import { MOSAIC_BUILD_ARGS } from '../mosaic-build-args.js';
import { executorField, unknownPlaceholders } from './streaming-converter.js';

/** Placeholders the builder's argv template may use; each is expanded inside its argument, never by a shell. */
export const MOSAIC_ARGV_PLACEHOLDERS = ['manifest', 'result', 'scratch', 'plan'] as const;

export { MOSAIC_BUILD_ARGS };

const cronField = (dflt: string) =>
  z
    .string()
    .default(dflt)
    .superRefine((v, ctx) => {
      const problem = cronProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: `invalid cron "${v}": ${problem}` });
    });

const count = (dflt: number) => z.number().int().min(1).default(dflt);
const jy = (dflt: number) => z.number().positive().default(dflt);
const interpolation = (dflt: 'nearest' | 'bilinear') => z.enum(['nearest', 'bilinear']).default(dflt);

function minBelowMax<T extends { minImages: number; maxImages: number }>(t: T, ctx: z.RefinementCtx) {
  if (t.minImages > t.maxImages)
    ctx.addIssue({ code: 'custom', path: ['minImages'], message: 'must not exceed maxImages' });
}

const quicklookTier = () =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      cron: cronField('*/10 * * * *'),
      maxImages: count(10),
      minImages: count(5),
      /** Plan once this many new eligible images follow the last quicklook's. */
      newImages: count(8),
      /** Images shared with the previous quicklook. */
      overlapImages: z.number().int().min(0).default(2),
      maxSpanS: seconds(3600, 1),
      noiseMaxJy: jy(0.01),
      interpolation: interpolation('nearest'),
      timeoutS: seconds(300, 1),
      /**
       * MosaicStale after this long without a built quicklook while eligible images exist. A tile closes every
       * newImages cadences (41 min), then waits for its last image and the build: 45 min would warn in normal
       * running (docs/mosaicking.md, "Staleness").
       */
      staleAfterS: seconds(3600, 1),
    })
    .superRefine(minBelowMax)
    .prefault({});

const scienceTier = () =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      /** The previous UTC day by observation time. */
      cron: cronField('30 3 * * *'),
      segmentMinutes: z.number().positive().default(60),
      overlapImages: z.number().int().min(0).default(2),
      maxImages: count(100),
      minImages: count(5),
      noiseMaxJy: jy(0.001),
      interpolation: interpolation('bilinear'),
      timeoutS: seconds(1800, 1),
      staleAfterS: seconds(108_000, 1),
      /** Inputs that arrive after a science build started make a new version of the plan. */
      replanLate: z.boolean().default(true),
    })
    .superRefine(minBelowMax)
    .prefault({});

const deepTier = () =>
  z
    .strictObject({
      /** Deep mosaics are only made on request (API, CLI). */
      enabled: z.boolean().default(false),
      maxImages: count(1000),
      minImages: count(10),
      noiseMaxJy: jy(0.0005),
      interpolation: interpolation('bilinear'),
      timeoutS: seconds(7200, 1),
    })
    .superRefine(minBelowMax)
    .prefault({});

export function mosaicSection(ctx: SchemaContext) {
  return z.strictObject({
    enabled: z.boolean().default(true),
    /** Products (FITS, weights, manifest, result) under <outputDir>/<tier>/<YYYY>/<MM>/<DD>/. */
    outputDir: dataPath(ctx, 'mosaics'),
    /** The builder's working directory (its cwd; attempt logs). */
    scratchDir: dataPath(ctx, 'scratch', 'mosaic'),
    /** File-name globs an image must match (on its base name): CASA's exports and WSClean's names. */
    inputGlobs: z.array(z.string().min(1)).min(1).default(['*.image.fits', '*-image.fits']),
    /** image: flat-noise images (the builder applies the primary beam); pbcor: primary-beam corrected. */
    inputKind: z.enum(['image', 'pbcor']).default('image'),
    /** An image without a fits_metadata row is waited for this long, then rejected `no_metadata`. */
    metadataWaitS: seconds(600),
    /** An image belongs to a strip when |dec − strip| ≤ this. */
    stripTolDeg: z.number().positive().default(0.1),
    /** The observation cadence (one image per this many seconds). */
    cadenceS: seconds(309, 1),
    /** Consecutive images further apart than this start a new unit (default 1.2 × cadence). */
    maxGapS: seconds(371, 1),
    /** A planning run is aborted after this long. */
    planTimeoutS: seconds(60, 1),
    /** How often staleness (MosaicStale) and long pauses (MosaicDispatchPaused) are evaluated. */
    watchdogCron: cronField('*/5 * * * *'),
    tiers: z
      .strictObject({ quicklook: quicklookTier(), science: scienceTier(), deep: deepTier() })
      .prefault({}),
    grid: z
      .strictObject({
        projection: z.enum(['SIN', 'TAN']).default('SIN'),
        /** null: the median input pixel. */
        pixelArcsec: z.number().positive().nullable().default(null),
        /** A unit whose canvas would be larger is split in RA, or fails `grid_too_large`: never coarsened. */
        maxCanvasPixels: z.number().int().positive().default(200_000_000),
      })
      .prefault({}),
    pb: z
      .strictObject({
        model: z.enum(['airy', 'file']).default('airy'),
        dishDiameterM: z.number().positive().default(4.65),
        /** Contributions with a primary-beam response below this are dropped. */
        cutoff: z.number().gt(0).lt(1).default(0.2),
        /** When an image has neither a FREQ axis nor RESTFRQ. */
        defaultFreqHz: z.number().positive().default(1.405e9),
        /** Average the beam over the RA the pointing drifted through during the observation. */
        smear: z.boolean().default(true),
      })
      .prefault({}),
    builder: z
      .strictObject({
        /** The builder's argv; {manifest} {result} {scratch} {plan} are expanded inside arguments. */
        argv: z
          .array(z.string().min(1), { error: 'expected an array of strings (argv template)' })
          .min(1)
          .superRefine((argv, c) => {
            for (const u of unknownPlaceholders(argv, MOSAIC_ARGV_PLACEHOLDERS))
              c.addIssue({ code: 'custom', path: [u.index], message: u.message });
          })
          .default(['contimg', ...MOSAIC_BUILD_ARGS]),
        env: z.record(z.string(), z.string()).default({}),
        executor: executorField(ctx),
        /** The build's memory limit (systemd-run MemoryMax locally when systemdScope is on; Slurm --mem). */
        memoryMaxGb: z.number().positive().default(32),
        /** Run a local build under `systemd-run --scope -p MemoryMax=…` (outside the scheduler's cgroup). */
        systemdScope: z.boolean().default(false),
        cpus: z.number().int().min(1).default(4),
        /** After the deadline: SIGTERM to the process group, SIGKILL this long later. */
        killGraceS: seconds(30),
        maxConcurrent: z.number().int().min(1).default(1),
        maxAttempts: z.number().int().min(1).default(3),
        retryBaseS: seconds(120, 1),
        retryMaxS: seconds(3600, 1),
        leaseS: seconds(60, 3),
        /** Dispatch pauses while the output or scratch folder has less free space than this. */
        minFreeGbOutput: z.number().min(0).default(50),
        minFreeGbScratch: z.number().min(0).default(20),
      })
      .superRefine((b, c) => {
        if (b.retryMaxS < b.retryBaseS)
          c.addIssue({ code: 'custom', path: ['retryMaxS'], message: 'must not be below retryBaseS' });
      })
      .prefault({}),
  });
}

export type MosaicConfig = z.output<ReturnType<typeof mosaicSection>>;
