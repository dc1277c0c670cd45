// Which images may go into a mosaic, one image at a time (docs/mosaicking.md "Eligibility"): the first rule
// an image breaks is its rejection reason, so every candidate is counted exactly once. Rules that need the
// other images (the strip's frame, two images of one measurement set, gaps) are applied after this.
import path from 'node:path';
import type { Candidate, PlannerSettings, RejectReason } from './types.js';

export { globToRegExp } from '../../glob.js';

/** CASA/WSClean products that are not the sky image: never mosaicked, whatever the globs say. */
const NOT_AN_IMAGE = /[.-](residual|psf|pb|model|dirty|sumwt|mask|flux|beam)(\.tt\d)?(\.fits?|\.fts)?$/i;
const FITS_EXT = /\.(fits?|fts)$/i;

export type Verdict =
  | { kind: 'eligible' }
  | { kind: 'rejected'; reason: RejectReason }
  /** No fits_metadata row yet, and metadataWaitS has not passed since the image was registered. */
  | { kind: 'waiting' };

const rejected = (reason: RejectReason): Verdict => ({ kind: 'rejected', reason });

/** Exactly one celestial plane: the first two axes RA/DEC-like, every other axis of length 1. */
export function isContinuumPlane(naxis: readonly number[], ctype: readonly [string, string]): boolean {
  if (naxis.length < 2 || naxis[0]! < 2 || naxis[1]! < 2) return false;
  if (naxis.slice(2).some((n) => n !== 1)) return false;
  const [c1, c2] = ctype.map((c) => c.toUpperCase());
  const lon = /^(RA--|GLON|ELON)/.test(c1!);
  const lat = /^(DEC-|GLAT|ELAT)/.test(c2!);
  return lon && lat;
}

export function judge(c: Candidate, s: PlannerSettings, globs: readonly RegExp[], nowMs: number): Verdict {
  const registered = path.basename(c.registeredPath.replace(/\/+$/, ''));
  if (NOT_AN_IMAGE.test(registered)) return rejected('type');
  if (c.file === null) return rejected('missing');
  if (c.file.isDirectory || !FITS_EXT.test(c.path)) return rejected('format');
  const base = path.basename(c.path);
  if (!globs.some((g) => g.test(base))) return rejected('type');
  if (!c.hasMetadata)
    return nowMs - c.registeredAtMs < s.metadataWaitS * 1000 ? { kind: 'waiting' } : rejected('no_metadata');
  if (
    c.obsMidMs === null ||
    c.decDeg === null ||
    c.raDeg === null ||
    c.pixelArcsec === null ||
    c.noiseJy === null
  )
    return rejected('no_metadata');
  if (c.naxis === null || c.ctype === null || !isContinuumPlane(c.naxis, c.ctype))
    return rejected('not_continuum');
  if (!(c.noiseJy > 0) || c.noiseJy >= s.rules.noiseMaxJy) return rejected('noise');
  if (s.stripDeg !== undefined && Math.abs(c.decDeg - s.stripDeg) > s.stripTolDeg) return rejected('dec');
  return { kind: 'eligible' };
}
