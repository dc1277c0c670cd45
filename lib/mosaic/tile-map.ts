// Mapping one tile onto the canvas. The exact transform (canvas pixel → sky → tile pixel, and the beam at
// that sky position) is evaluated only on a coarse node grid, every NODE_STEP canvas pixels, and bilinearly
// interpolated in between, as SWarp does: the transform between two nearby zenithal projections is smooth,
// so the interpolation error is far below a pixel (test/unit/mosaic/mbuild-tile-map.test.ts measures it),
// and the trigonometry runs on 1/256 of the pixels. A cell with a corner off the projection (NaN) is
// evaluated exactly pixel by pixel instead. Pure: the tile's pixels come in as an array.
import type { MosaicCanvas } from './accumulate.js';
import type { Beam } from './beam.js';
import { pixelToWorld, worldToPixel, type CelestialWcs } from './wcs.js';

export const NODE_STEP = 16;

/**
 * The node step for a canvas pixel and a beam: 16 pixels, or fewer when 16 pixels span more than FWHM/200.
 * Bilinear interpolation of the beam over a cell of h degrees errs by about h²/8 · |A''|; at FWHM/200 that is
 * below 1e-4 in A (test/unit/mosaic/mbuild-tile-map.test.ts). DSA-110's 2.5″ pixels (16 px = 40″ against a
 * 2.7° beam) keep 16; the coarse pixels of tests and quicklooks get a finer node grid.
 */
export function nodeStepFor(pixelArcsec: number, beamFwhmDeg: number): number {
  const step = Math.floor(beamFwhmDeg / 200 / (pixelArcsec / 3600));
  return Math.max(2, Math.min(NODE_STEP, step));
}

export interface Box {
  x0: number;
  y0: number;
  /** Inclusive. */
  x1: number;
  y1: number;
}

/**
 * The canvas box a tile can touch: its image edges mapped onto the canvas, one pixel of margin, clamped.
 * Undefined when it misses the canvas; the whole canvas when an edge point has no place on the canvas's
 * projection (the bounding box of the edges would not bound the tile then).
 */
export function footprintBox(
  tile: CelestialWcs,
  tnx: number,
  tny: number,
  grid: CelestialWcs,
  nx: number,
  ny: number,
): Box | undefined {
  const w = new Float64Array(2);
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (px: number, py: number): boolean => {
    pixelToWorld(tile, px, py, w);
    if (Number.isNaN(w[1])) return true; // off the tile's own projection: no sky there
    worldToPixel(grid, w[0], w[1], w);
    if (Number.isNaN(w[0]) || Number.isNaN(w[1])) return false;
    x0 = Math.min(x0, w[0]);
    x1 = Math.max(x1, w[0]);
    y0 = Math.min(y0, w[1]);
    y1 = Math.max(y1, w[1]);
    return true;
  };
  const edges: [number, number][] = [];
  for (let x = -0.5; ; x = Math.min(x + NODE_STEP, tnx - 0.5)) {
    edges.push([x, -0.5], [x, tny - 0.5]);
    if (x >= tnx - 0.5) break;
  }
  for (let y = -0.5; ; y = Math.min(y + NODE_STEP, tny - 0.5)) {
    edges.push([-0.5, y], [tnx - 0.5, y]);
    if (y >= tny - 0.5) break;
  }
  for (const [px, py] of edges) {
    if (!visit(px, py)) return { x0: 0, y0: 0, x1: nx - 1, y1: ny - 1 };
  }
  if (!Number.isFinite(x0)) return undefined;
  const box = {
    x0: Math.max(0, Math.floor(x0) - 1),
    y0: Math.max(0, Math.floor(y0) - 1),
    x1: Math.min(nx - 1, Math.ceil(x1) + 1),
    y1: Math.min(ny - 1, Math.ceil(y1) + 1),
  };
  return box.x0 > box.x1 || box.y0 > box.y1 ? undefined : box;
}

/** Node positions along one axis of a box: every NODE_STEP pixels from lo, always including hi. */
export function nodePositions(lo: number, hi: number, step = NODE_STEP): Int32Array {
  const n = Math.floor((hi - lo) / step) + 1 + ((hi - lo) % step === 0 ? 0 : 1);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(hi, lo + i * step);
  return out;
}

/** The exact transform at one canvas pixel: tile pixel (x, y) and beam response, into out[0..2]. */
export function exactAt(
  grid: CelestialWcs,
  tile: CelestialWcs,
  beam: Beam,
  cx: number,
  cy: number,
  out: Float64Array,
  tmp: Float64Array,
): void {
  pixelToWorld(grid, cx, cy, tmp);
  if (Number.isNaN(tmp[1])) {
    out[0] = out[1] = out[2] = NaN;
    return;
  }
  const ra = tmp[0];
  const dec = tmp[1];
  worldToPixel(tile, ra, dec, tmp);
  out[0] = tmp[0];
  out[1] = tmp[1];
  out[2] = beam(ra, dec);
}

export interface TileInput {
  wcs: CelestialWcs;
  nx: number;
  ny: number;
  /** Physical pixel values, row-major, row 0 at the bottom (FITS order). */
  pixels: Float32Array | Float64Array;
  beam: Beam;
  /** 1/σ², Jy⁻². */
  invVar: number;
  pbcor: boolean;
}

export interface MapOptions {
  pbCutoff: number;
  interpolation: 'nearest' | 'bilinear';
  step?: number;
}

export interface TileContribution {
  /** Canvas pixels this tile added weight to. */
  used: number;
  /** Canvas pixels inside the tile's footprint (inside the image, A ≥ cutoff), NaN or not. */
  footprint: number;
}

/** Add one tile to the canvas within box. */
export function addTile(
  canvas: MosaicCanvas,
  grid: CelestialWcs,
  tile: TileInput,
  box: Box,
  opts: MapOptions,
): TileContribution {
  const step = opts.step ?? NODE_STEP;
  const xs = nodePositions(box.x0, box.x1, step);
  const ys = nodePositions(box.y0, box.y1, step);
  const ncol = xs.length;
  // Node values, 3 per node (tile x, tile y, beam), row-major over (ys, xs).
  const nodes = new Float64Array(ncol * ys.length * 3);
  const out = new Float64Array(3);
  const tmp = new Float64Array(2);
  for (let j = 0; j < ys.length; j++) {
    for (let i = 0; i < ncol; i++) {
      exactAt(grid, tile.wcs, tile.beam, xs[i], ys[j], out, tmp);
      nodes.set(out, (j * ncol + i) * 3);
    }
  }
  const row = new Float64Array(ncol * 3);
  const result: TileContribution = { used: 0, footprint: 0 };
  let j = 0;
  for (let cy = box.y0; cy <= box.y1; cy++) {
    while (j < ys.length - 2 && cy > ys[j + 1]) j++;
    const jn = Math.min(j + 1, ys.length - 1);
    const ty = ys[jn] === ys[j] ? 0 : (cy - ys[j]) / (ys[jn] - ys[j]);
    for (let k = 0; k < ncol * 3; k++) {
      const a = nodes[j * ncol * 3 + k];
      row[k] = a + (nodes[jn * ncol * 3 + k] - a) * ty;
    }
    let i = 0;
    for (let cx = box.x0; cx <= box.x1; cx++) {
      while (i < ncol - 2 && cx > xs[i + 1]) i++;
      const inext = Math.min(i + 1, ncol - 1);
      const tx = xs[inext] === xs[i] ? 0 : (cx - xs[i]) / (xs[inext] - xs[i]);
      let px = row[i * 3] + (row[inext * 3] - row[i * 3]) * tx;
      let py = row[i * 3 + 1] + (row[inext * 3 + 1] - row[i * 3 + 1]) * tx;
      let a = row[i * 3 + 2] + (row[inext * 3 + 2] - row[i * 3 + 2]) * tx;
      if (Number.isNaN(px) || Number.isNaN(py) || Number.isNaN(a)) {
        exactAt(grid, tile.wcs, tile.beam, cx, cy, out, tmp);
        [px, py, a] = [out[0], out[1], out[2]];
        if (Number.isNaN(px) || Number.isNaN(py)) continue;
      }
      if (!(a >= opts.pbCutoff)) continue;
      const v = sample(tile, px, py, opts.interpolation);
      if (v === undefined) continue;
      const idx = cy * canvas.nx + cx;
      canvas.markFootprint(idx);
      result.footprint++;
      if (Number.isNaN(v)) continue;
      canvas.add(idx, v, a, tile.invVar, tile.pbcor);
      result.used++;
    }
  }
  return result;
}

/**
 * The tile's value at fractional 0-based pixel (px, py): undefined outside the image, NaN where the image is
 * blank. Bilinear needs four finite neighbours inside the image; otherwise (an image edge, a NaN neighbour)
 * it falls back to the nearest pixel, so both modes share one footprint: the finite input pixels.
 */
export function sample(
  t: Pick<TileInput, 'nx' | 'ny' | 'pixels'>,
  px: number,
  py: number,
  mode: 'nearest' | 'bilinear',
): number | undefined {
  const ix = Math.round(px);
  const iy = Math.round(py);
  if (ix < 0 || iy < 0 || ix >= t.nx || iy >= t.ny) return undefined;
  const p = t.pixels;
  if (mode === 'bilinear') {
    const x0 = Math.floor(px);
    const y0 = Math.floor(py);
    if (x0 >= 0 && y0 >= 0 && x0 + 1 < t.nx && y0 + 1 < t.ny) {
      const k = y0 * t.nx + x0;
      const [a, b, c, d] = [p[k], p[k + 1], p[k + t.nx], p[k + t.nx + 1]];
      if (!Number.isNaN(a + b + c + d)) {
        const fx = px - x0;
        const fy = py - y0;
        return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
      }
    }
  }
  return p[iy * t.nx + ix];
}
