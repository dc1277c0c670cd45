// Colour maps as 256×RGB tables (matplotlib's bytes; see colormap-data.ts).
import { COLORMAP_HEX } from './colormap-data.js';

export type ColormapName = keyof typeof COLORMAP_HEX;
export const COLORMAPS = Object.keys(COLORMAP_HEX) as ColormapName[];

const cache = new Map<ColormapName, Uint8Array>();

/** 768 bytes: entry i is RGB at [3i, 3i+1, 3i+2], exactly matplotlib's bytes for that map. */
export function colormap(name: ColormapName): Uint8Array {
  let t = cache.get(name);
  if (!t) {
    t = Uint8Array.from(Buffer.from(COLORMAP_HEX[name], 'hex'));
    if (t.length !== 768) throw new Error(`colour map ${name}: ${t.length} bytes, expected 768`);
    cache.set(name, t);
  }
  return t;
}
