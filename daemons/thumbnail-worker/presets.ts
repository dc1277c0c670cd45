// Config presets → renderer options, and where a thumbnail's PNG lives: a dedicated folder, never next to
// the science data, named by sha1(path) + preset + the source fingerprint so CASA products never collide
// and a changed source never reuses a stale file (thumbnail-worker.md §1.6 defects 2 and 3).
import crypto from 'node:crypto';
import path from 'node:path';
import type { Config } from '../../lib/config/index.js';
import type { ThumbnailPreset } from '../../lib/config/sections/thumbnail-worker.js';
import type { RenderOptions } from '../../lib/fits/render.js';

export function renderOptionsFor(
  p: ThumbnailPreset,
  limits: { maxPixels: number; maxHeaderBlocks: number; stripBytes: number; pngLevel: number },
): RenderOptions {
  const nanColor: [number, number, number] | undefined =
    p.nan === 'transparent'
      ? undefined
      : [parseInt(p.nan.slice(1, 3), 16), parseInt(p.nan.slice(3, 5), 16), parseInt(p.nan.slice(5, 7), 16)];
  return {
    maxDim: p.maxDim,
    interval: p.interval,
    contrast: p.contrast,
    lowPercent: p.lowPercent,
    highPercent: p.highPercent,
    stretch: p.stretch,
    stretchA: p.stretchA,
    colormap: p.colormap,
    nanColor,
    nanTransparent: p.nan === 'transparent',
    downsample: p.downsample,
    limitsOn: p.limitsOn,
    select: p.plane === 'stokesI' ? { stokes: 'I' } : {},
    maxPixels: limits.maxPixels,
    maxBlocks: limits.maxHeaderBlocks,
    stripBytes: limits.stripBytes,
    pngLevel: limits.pngLevel,
    stats: true,
  };
}

/** Render options for every configured preset, by name. */
export function presetOptions(cfg: Config['thumbnailWorker']): Record<string, RenderOptions> {
  const limits = {
    maxPixels: cfg.maxPixels,
    maxHeaderBlocks: cfg.maxHeaderBlocks,
    stripBytes: cfg.stripBytes,
    pngLevel: cfg.pngLevel,
  };
  return Object.fromEntries(Object.entries(cfg.presets).map(([k, p]) => [k, renderOptionsFor(p, limits)]));
}

export function sha1(text: string): string {
  return crypto.createHash('sha1').update(text).digest('hex');
}

/** <outputDir>/<h[0:2]>/<h>_<variant>_<fp8>.png with h = sha1(fits path), fp8 = sha1(fingerprint key)[0:8]. */
export function pngPathFor(
  outputDir: string,
  fitsPath: string,
  variant: string,
  fingerprintKey: string,
): string {
  const h = sha1(fitsPath);
  return path.join(outputDir, h.slice(0, 2), `${h}_${variant}_${sha1(fingerprintKey).slice(0, 8)}.png`);
}

/** Basename glob with * and ? (no path separators), as the include list uses. */
export function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

export function matchesAny(fitsPath: string, globs: readonly RegExp[]): boolean {
  const base = path.basename(fitsPath);
  return globs.some((g) => g.test(base));
}
