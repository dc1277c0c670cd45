// The planner's shapes (docs/mosaicking.md "Planning"): what the scheduler's loader hands in about each image
// (a candidate), the settings of one planning run, and what comes out (units with their grids, and every
// candidate turned away counted by reason). Times are ms since the epoch (observation mid-times), angles
// degrees, noise Jy; file mtimes are decimal nanosecond strings.
import type { MosaicGrid, MosaicTier } from '../manifest.js';

export const REJECT_REASONS = [
  'type',
  'format',
  'missing',
  'no_metadata',
  'noise',
  'dec',
  'gap',
  'frame',
  'not_continuum',
  'duplicate_ms',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export type Rejections = Partial<Record<RejectReason, number>>;

/** One image row of the pipeline database with what the state database and the file say about it. */
export interface Candidate {
  imageId: number | null;
  /** The file the planner would use: the registered path, or a CASA directory's sibling `.fits`. */
  path: string;
  /** The path as registered (differs from `path` for a CASA directory mapped to its `.fits`). */
  registeredPath: string;
  msPath: string | null;
  /** When the row was registered (images.created_at), ms: the metadata wait runs from here. */
  registeredAtMs: number;
  /** stat(): null when the file does not exist; isDirectory for a CASA image directory with no `.fits`. */
  file: { size: number; mtimeNs: string; ino: number; isDirectory: boolean } | null;
  /** Observation mid-time: converter_groups.mid_jd, else the header's DATE-OBS plus half a cadence. */
  obsMidMs: number | null;
  /** Pointing declination: converter_groups.dec_rad, else the header's CRVAL2. */
  decDeg: number | null;
  /** Image centre RA (CRVAL1). */
  raDeg: number | null;
  /** A fits_metadata row for this file's current fingerprint exists. */
  hasMetadata: boolean;
  /** fits_metadata.mad_std: the flat-noise σ. */
  noiseJy: number | null;
  /** NAXISn lengths. */
  naxis: number[] | null;
  ctype: [string, string] | null;
  /** frameKey(RADESYS, EQUINOX) of the header, null when the header could not be read. */
  frame: string | null;
  pixelArcsec: number | null;
  freqHz: number | null;
}

export interface TierRules {
  minImages: number;
  maxImages: number;
  noiseMaxJy: number;
  /** quicklook: images per step (a tile advances by this many cadences). */
  newImages?: number;
  overlapImages?: number;
  maxSpanS?: number;
  /** science: segment length. */
  segmentMinutes?: number;
}

export interface PlannerSettings {
  tier: MosaicTier;
  rules: TierRules;
  inputGlobs: readonly string[];
  inputKind: 'image' | 'pbcor';
  metadataWaitS: number;
  stripTolDeg: number;
  cadenceS: number;
  maxGapS: number;
  projection: 'SIN' | 'TAN';
  pixelArcsec: number | null;
  maxCanvasPixels: number;
  memoryMaxBytes: number;
  /** Observation-time window [fromMs, toMs) of the candidates to plan. */
  window: { fromMs: number; toMs: number };
  /** Plan only this strip (|dec − strip| ≤ stripTolDeg); others are rejected `dec`. */
  stripDeg?: number;
  /** deep: RA box (wrapping when raMin > raMax) and a label for the name. */
  deep?: { raMinDeg: number; raMaxDeg: number; label: string };
}

/** A chosen input, in observation order. */
export interface UnitInput {
  imageId: number | null;
  path: string;
  size: number;
  mtimeNs: string;
  ino: number;
  obsMidMs: number;
  raDeg: number;
  decDeg: number;
  noiseJy: number;
  kind: 'image' | 'pbcor';
  pixelArcsec: number;
  nx: number;
  ny: number;
  freqHz: number | null;
}

export interface PlannedUnit {
  tier: MosaicTier;
  /** The deterministic name before any _v<k> (mosaic_plans.base_name). */
  baseName: string;
  stripDeg: number;
  frame: string | null;
  windowStartMs: number;
  windowEndMs: number;
  raMinDeg: number | null;
  raMaxDeg: number | null;
  /** Candidates whose observation time falls in this unit's window (selected or not). */
  nCandidates: number;
  rejected: Rejections;
  inputs: UnitInput[];
  inputsHash: string;
  grid: MosaicGrid | null;
  estMemoryBytes: number | null;
  /** empty: images existed in the window but none was eligible; too_large: no split fits the limits. */
  status: 'ok' | 'empty' | 'grid_too_large';
}

export interface PlanResult {
  units: PlannedUnit[];
  /** Every rejection of the run, by reason (the metric and the CLI's summary). */
  rejected: Rejections;
  nCandidates: number;
  /** Candidates still inside metadataWaitS without a fits_metadata row (neither used nor rejected). */
  waiting: number;
}
