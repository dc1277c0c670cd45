// Values → palette indices + palette for an indexed PNG. Data use matplotlib's 256 bins exactly; the NaN
// colour needs a palette slot too, so it takes a bin no pixel uses, or, when all 256 are used, the pair of
// neighbouring mid-map entries with the smallest colour difference is merged to free one (at most a level or
// two of error, on one bin, instead of losing a whole end of the map).
import { colormap, type ColormapName } from './colormap.js';
import { stretchFn, type StretchName, type StretchParams } from './stretch.js';

export interface Colorized {
  indices: Uint8Array;
  palette: Uint8Array;
  /** The palette entry made transparent, or null when no pixel is NaN or NaN is drawn opaque. */
  transparentIndex: number | null;
}

export interface ColorizeOptions {
  vmin: number;
  vmax: number;
  stretch: StretchName;
  stretchParams?: StretchParams;
  colormap: ColormapName;
  nanColor?: [number, number, number];
  nanTransparent?: boolean;
}

function closestPair(cmap: Uint8Array): number {
  let best = 1;
  let bestD = Infinity;
  for (let k = 1; k < 254; k++) {
    const d =
      Math.abs(cmap[3 * k] - cmap[3 * k + 3]) +
      Math.abs(cmap[3 * k + 1] - cmap[3 * k + 4]) +
      Math.abs(cmap[3 * k + 2] - cmap[3 * k + 5]);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

const LUT_BITS = 16;
const LUT_SIZE = 1 << LUT_BITS;

const EMPTY_LUT = new Uint8Array(0);
/** Tables by stretch and parameter: a daemon renders with a few presets, and a table costs ~3 ms to build. */
const lutCache = new Map<string, Uint8Array>();

function stretchLut(
  name: StretchName,
  params: StretchParams | undefined,
  f: (x: number) => number,
): Uint8Array {
  const key = `${name}:${params?.a ?? ''}`;
  let lut = lutCache.get(key);
  if (!lut) {
    lut = new Uint8Array(LUT_SIZE);
    for (let i = 0; i < LUT_SIZE; i++) lut[i] = Math.min(255, Math.floor(f(i / LUT_SIZE) * 256));
    if (lutCache.size >= 16) lutCache.clear();
    lutCache.set(key, lut);
  }
  return lut;
}

/**
 * Bin of every value in one tight loop. Linear is computed exactly; other stretches go through a 65 536-cell
 * table of bins over [0, 1) (a value within 1/65 536 of a bin edge may land one bin off: invisible, and
 * 5–10× cheaper than a transcendental per pixel). Non-finite values are left at 0 and their positions listed in
 * nanAt (so the NaN slot is filled in without a second pass over the values); returns their count.
 */
function binValues(
  values: ArrayLike<number>,
  o: ColorizeOptions,
  indices: Uint8Array,
  used: Uint8Array,
  nanAt: Int32Array,
): number {
  const f = stretchFn(o.stretch, o.stretchParams);
  const top = Math.min(255, Math.floor(f(1) * 256));
  const span = o.vmax - o.vmin;
  const vmin = o.vmin;
  const linear = o.stretch === 'linear';
  const lut = linear ? EMPTY_LUT : stretchLut(o.stretch, o.stretchParams, f);
  let nan = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) {
      nanAt[nan++] = i;
      continue;
    }
    const x = span > 0 ? (v - vmin) / span : 0;
    let k: number;
    if (!(x > 0)) k = 0;
    else if (x >= 1) k = top;
    else if (linear) k = Math.floor(x * 256);
    else k = lut[(x * LUT_SIZE) | 0];
    indices[i] = k;
    used[k] = 1;
  }
  return nan;
}

export function colorize(values: ArrayLike<number>, o: ColorizeOptions): Colorized {
  const n = values.length;
  const indices = new Uint8Array(n);
  const used = new Uint8Array(256);
  const nanAt = new Int32Array(n);
  const nanCount = binValues(values, o, indices, used, nanAt);
  const palette = Uint8Array.from(colormap(o.colormap));
  if (nanCount === 0) return { indices, palette, transparentIndex: null };
  let slot = used.indexOf(0);
  if (slot < 0) {
    slot = closestPair(palette);
    for (let i = 0; i < n; i++) if (indices[i] === slot) indices[i] = slot + 1;
  }
  palette.set(o.nanColor ?? [0, 0, 0], 3 * slot);
  for (let i = 0; i < nanCount; i++) indices[nanAt[i]] = slot;
  return { indices, palette, transparentIndex: o.nanTransparent === false ? null : slot };
}
