// The contract between the mosaic planner/dispatcher (scheduler) and a mosaic builder (docs/mosaicking.md,
// "The builder contract"): the manifest the dispatcher writes before it starts a build, the result JSON the
// builder writes beside its outputs, and the builder's exit codes. Any builder — `contimg mosaic-build`, the
// TypeScript reference, or a Python one on the telescope — reads and writes exactly this; both sides parse
// with these schemas so that a field one side forgot fails loudly at the boundary instead of in the physics.
//
// Conventions: angles in degrees, times as ISO-8601 UTC strings, file mtimes as decimal nanosecond strings
// (they exceed 2^53), sizes in bytes, noise in Jy. Paths are absolute.
import path from 'node:path';
import { z } from 'zod';

export const MANIFEST_VERSION = 1;

export const MOSAIC_TIERS = ['quicklook', 'science', 'deep'] as const;
export type MosaicTier = (typeof MOSAIC_TIERS)[number];

/** Exit codes of a builder and what the dispatcher makes of them. */
export const BUILD_EXIT = {
  ok: 0,
  /** I/O error (unreadable input, full disk): retriable. */
  io: 2,
  /** Validation (result.error_code is one of VALIDATION_CODES): not retriable, except input_changed (re-plan). */
  validation: 5,
  /** The build itself failed: retried once. */
  buildError: 8,
  /** timeout(1)'s code; the dispatcher's own deadline also maps to timeout. */
  timeout: 124,
  /** SIGKILL, usually the memory limit: failed (deterministic), the alert says "split". */
  oom: 137,
} as const;

export const VALIDATION_CODES = [
  'input_changed',
  'not_continuum',
  'frame_mismatch',
  'unsupported_projection',
  'no_usable_inputs',
  'grid_too_large',
] as const;
export type ValidationCode = (typeof VALIDATION_CODES)[number];

/** Result error codes: the validation codes, plus the other classes a builder may name. */
export const RESULT_ERROR_CODES = [...VALIDATION_CODES, 'io', 'build_error', 'bad_manifest'] as const;
export type ResultErrorCode = (typeof RESULT_ERROR_CODES)[number];

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const positive = finite.refine((v) => v > 0, 'must be > 0');
const raDeg = finite.refine((v) => v >= 0 && v < 360, 'must be in [0, 360)');
const decDeg = finite.refine((v) => v >= -90 && v <= 90, 'must be in [-90, 90]');
const absPath = z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path');
const nsString = z.string().regex(/^\d+$/, 'must be a decimal nanosecond string');
const isoUtc = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)) && s.endsWith('Z'), 'must be ISO-8601 UTC');

export const SkyPosition = z.strictObject({ ra: raDeg, dec: decDeg });

/**
 * A celestial frame as `RADESYS` or `RADESYS/EQUINOX`: "ICRS", "FK5/2000", "FK4/1950" (see frameKey).
 */
export const FrameKey = z
  .string()
  .regex(/^(ICRS|FK5\/\d+(\.\d+)?|FK4\/\d+(\.\d+)?|FK4-NO-E\/\d+(\.\d+)?|GAPPT)$/);

export const PrimaryBeam = z.strictObject({
  /** airy: (2J1(x)/x)^2 with x = pi D sin(theta)/lambda; file: the tile's own PB FITS at `path`. */
  model: z.enum(['airy', 'file']),
  path: absPath.optional(),
  dish_m: positive,
  /** Used when the image has neither a FREQ axis nor RESTFRQ. */
  freq_hz: positive,
  /** The tile's pointing at mid-observation (RA) on the strip's declination. */
  pointing: SkyPosition,
  /** RA the pointing drifted through during the observation (0: no drift averaging). */
  smear_ra_deg: finite.refine((v) => v >= 0, 'must be >= 0'),
});

export const MosaicInput = z.strictObject({
  path: absPath,
  size: z.number().int().nonnegative(),
  mtime_ns: nsString,
  ino: z.number().int().nonnegative(),
  obs_mid_utc: isoUtc,
  ra_deg: raDeg,
  dec_deg: decDeg,
  /** The tile's flat-noise MAD standard deviation (fits_metadata.mad_std). */
  noise_jy: positive,
  kind: z.enum(['image', 'pbcor']),
  pb: PrimaryBeam,
});
export type MosaicInput = z.infer<typeof MosaicInput>;

export const MosaicGrid = z.strictObject({
  frame: FrameKey,
  projection: z.enum(['SIN', 'TAN']),
  center: SkyPosition,
  pixel_arcsec: positive,
  nx: z.number().int().positive(),
  ny: z.number().int().positive(),
});
export type MosaicGrid = z.infer<typeof MosaicGrid>;

export const MosaicManifest = z.strictObject({
  version: z.literal(MANIFEST_VERSION),
  plan_id: z.number().int().positive(),
  name: z.string().regex(/^[A-Za-z0-9_.+-]+$/, 'must be a plain file name stem'),
  tier: z.enum(MOSAIC_TIERS),
  /** SHA-256 (hex) of the sorted (path, size, mtime_ns, ino) tuples: the INHASH header keyword. */
  inputs_hash: z.string().regex(/^[0-9a-f]{64}$/),
  inputs: z.array(MosaicInput).min(1),
  grid: MosaicGrid,
  weighting: z.strictObject({
    scheme: z.literal('pb2_over_var'),
    /** Contributions with A below this are dropped, not clamped. */
    pb_cutoff: finite.refine((v) => v > 0 && v < 1, 'must be in (0, 1)'),
  }),
  interpolation: z.enum(['nearest', 'bilinear']),
  outputs: z.strictObject({ fits: absPath, weights: absPath }),
  limits: z.strictObject({
    timeout_s: positive,
    memory_bytes: z.number().int().positive(),
  }),
  result_path: absPath,
});
export type MosaicManifest = z.infer<typeof MosaicManifest>;

export const MosaicResult = z.strictObject({
  ok: z.boolean(),
  error_code: z.enum(RESULT_ERROR_CODES).nullable(),
  error: z.string().nullable(),
  outputs: z
    .strictObject({ fits: absPath, weights: absPath, bytes: z.number().int().nonnegative() })
    .nullable(),
  n_used: z.number().int().nonnegative(),
  skipped: z.array(z.strictObject({ path: z.string(), reason: z.string() })),
  grid: MosaicGrid.nullable(),
  stats: z
    .strictObject({
      /** Median 1/sqrt(W) over the pixels with W >= 0.5 max W. */
      effective_noise_jy: positive.nullable(),
      median_input_noise_jy: positive.nullable(),
      coverage_sq_deg: finite.refine((v) => v >= 0, 'must be >= 0'),
      nan_fraction_in_footprint: finite.refine((v) => v >= 0 && v <= 1, 'must be in [0, 1]'),
      peak_rss_bytes: z.number().int().nonnegative(),
      seconds: finite.refine((v) => v >= 0, 'must be >= 0'),
    })
    .nullable(),
  builder_version: z.string().min(1),
});
export type MosaicResult = z.infer<typeof MosaicResult>;

/** A manifest or result that does not fit the contract: names the first offending field. */
export class MosaicContractError extends Error {
  constructor(
    readonly what: 'manifest' | 'result',
    readonly field: string,
    message: string,
  ) {
    super(`${what}: ${field === '' ? '' : `${field}: `}${message}`);
    this.name = 'MosaicContractError';
  }
}

function parseWith<T>(schema: z.ZodType<T>, what: 'manifest' | 'result', text: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new MosaicContractError(what, '', `not JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new MosaicContractError(what, issue.path.join('.'), issue.message);
}

export function parseManifest(text: string): MosaicManifest {
  return parseWith(MosaicManifest, 'manifest', text);
}

export function parseResult(text: string): MosaicResult {
  return parseWith(MosaicResult, 'result', text);
}

/**
 * The frame key of an image header: RADESYS with its EQUINOX, with the FITS WCS defaults (Calabretta &
 * Greisen 2002, §3.1): no RADESYS → FK4 when EQUINOX < 1984, FK5 when >= 1984, ICRS when neither is given;
 * FK4 defaults to equinox 1950, FK5 to 2000. Images in different frames never share a mosaic grid.
 */
export function frameKey(radesys: string | undefined, equinox: number | undefined): string {
  const sys = radesys?.trim().toUpperCase();
  if (sys === 'ICRS' || sys === 'GAPPT') return sys;
  if (sys === 'FK4' || sys === 'FK4-NO-E') return `${sys}/${equinox ?? 1950}`;
  if (sys === 'FK5') return `FK5/${equinox ?? 2000}`;
  if (equinox === undefined) return 'ICRS';
  return equinox < 1984 ? `FK4/${equinox}` : `FK5/${equinox}`;
}

/**
 * Where a plan's files live: `<outputDir>/<tier>/<YYYY>/<MM>/<DD>/<name>.{manifest.json,fits,weights.fits,
 * result.json}`, dated by the plan's observation window start (UTC).
 */
export function mosaicPaths(
  outputDir: string,
  tier: MosaicTier,
  name: string,
  windowStartMs: number,
): { dir: string; manifest: string; fits: string; weights: string; result: string } {
  const d = new Date(windowStartMs);
  const dir = path.join(
    outputDir,
    tier,
    String(d.getUTCFullYear()).padStart(4, '0'),
    String(d.getUTCMonth() + 1).padStart(2, '0'),
    String(d.getUTCDate()).padStart(2, '0'),
  );
  const stem = path.join(dir, name);
  return {
    dir,
    manifest: `${stem}.manifest.json`,
    fits: `${stem}.fits`,
    weights: `${stem}.weights.fits`,
    result: `${stem}.result.json`,
  };
}
