// Values → palette indices + palette for an indexed PNG. Data use matplotlib's 256 bins exactly; the NaN
// colour needs a palette slot too, so it takes a bin no pixel uses, or, when all 256 are used, the pair of
// neighbouring mid-map entries with the smallest colour difference is merged to free one (at most a level or
// two of error, on one bin, instead of losing a whole end of the map).
import { colormap, type ColormapName } from './colormap.js';
import { makeIndexer, NAN_INDEX, type StretchName, type StretchParams } from './stretch.js';

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
    const d = Math.abs(cmap[3 * k] - cmap[3 * k + 3]) + Math.abs(cmap[3 * k + 1] - cmap[3 * k + 4]) + Math.abs(cmap[3 * k + 2] - cmap[3 * k + 5]);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

export function colorize(values: ArrayLike<number>, o: ColorizeOptions): Colorized {
  const indexer = makeIndexer(o.vmin, o.vmax, o.stretch, o.stretchParams);
  const n = values.length;
  const indices = new Uint8Array(n);
  const used = new Uint8Array(256);
  let nanCount = 0;
  for (let i = 0; i < n; i++) {
    const k = indexer(values[i]);
    if (k === NAN_INDEX) nanCount++;
    else {
      indices[i] = k;
      used[k] = 1;
    }
  }
  const palette = Uint8Array.from(colormap(o.colormap));
  if (nanCount === 0) return { indices, palette, transparentIndex: null };
  let slot = used.indexOf(0);
  if (slot < 0) {
    slot = closestPair(palette);
    for (let i = 0; i < n; i++) if (indices[i] === slot) indices[i] = slot + 1;
  }
  palette.set(o.nanColor ?? [0, 0, 0], 3 * slot);
  for (let i = 0; i < n; i++) if (values[i] - values[i] !== 0) indices[i] = slot;
  return { indices, palette, transparentIndex: o.nanTransparent === false ? null : slot };
}
