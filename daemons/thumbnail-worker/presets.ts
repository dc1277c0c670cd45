// Config presets → renderer options and look keys, and where a thumbnail's PNG lives: a dedicated folder,
// never next to the science data, named by sha1(path) + preset + the source fingerprint + the look, so CASA
// products never collide and neither a changed source nor a changed look ever overwrites a file a reader
// may hold (docs/thumbnail-worker.md).
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

/**
 * Bumped when the renderer's output changes for the same preset (a new colour-map table, a fixed bin): every
 * thumbnail is then re-rendered once, in the background, like after a preset change.
 */
export const RENDERER_LOOK_VERSION = 1;

/**
 * What makes a thumbnail's look: every key of the preset as parsed (defaults filled in) plus the renderer
 * version. A thumbnail is current only when its stored look equals its preset's key.
 */
export function lookKey(p: ThumbnailPreset): string {
  return sha1(JSON.stringify({ renderer: RENDERER_LOOK_VERSION, ...p })).slice(0, 12);
}

/** The look key of every configured preset, by name. */
export function presetLooks(cfg: Config['thumbnailWorker']): Record<string, string> {
  return Object.fromEntries(Object.entries(cfg.presets).map(([k, p]) => [k, lookKey(p)]));
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

/**
 * <outputDir>/<h[0:2]>/<h>_<variant>_<fp8>_<look8>.png with h = sha1(fits path), fp8 = sha1(fingerprint
 * key)[0:8] and look8 = the preset's look key [0:8].
 */
export function pngPathFor(
  outputDir: string,
  fitsPath: string,
  variant: string,
  fingerprintKey: string,
  look: string,
): string {
  const h = sha1(fitsPath);
  const name = `${h}_${variant}_${sha1(fingerprintKey).slice(0, 8)}_${look.slice(0, 8)}.png`;
  return path.join(outputDir, h.slice(0, 2), name);
}

/** Basename glob with * and ? (no path separators), as the include list uses. */
export { globToRegExp } from '../../lib/glob.js';

export function matchesAny(fitsPath: string, globs: readonly RegExp[]): boolean {
  const base = path.basename(fitsPath);
  return globs.some((g) => g.test(base));
}
