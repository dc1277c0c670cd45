// What a unit is, from its inputs alone: its deterministic name, the hash of its inputs, the output grid and
// the builder's memory estimate, and the split in RA when the canvas would not fit (docs/mosaicking.md
// "Naming", "Grid and memory"). The canvas is sized on the sky (cos δ applied) in the inputs' frame and is
// never coarsened to fit: a unit that is too large is split, or refused as grid_too_large.
import crypto from 'node:crypto';
import type { MosaicGrid, MosaicTier } from '../manifest.js';
import { medianInPlace } from '../../fits/sorted.js';
import { estimateMemoryBytes } from '../memory.js';
import type { UnitInput } from './types.js';

const pad2 = (n: number) => String(n).padStart(2, '0');

/** YYYYMMDDTHHMM (UTC). */
export function stamp(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}`
  );
}

/** HHMM (UTC). */
export const hhmm = (ms: number): string => stamp(ms).slice(9);
/** YYYYMMDD (UTC). */
export const ymd = (ms: number): string => stamp(ms).slice(0, 8);

/** The strip as it appears in names and alert labels: sign, two digits, one decimal (+55.6, -05.0). */
export function stripLabel(decDeg: number): string {
  const r = Math.round(decDeg * 10) / 10;
  return `${r < 0 ? '-' : '+'}${Math.abs(r).toFixed(1).padStart(4, '0')}`;
}

/** `<tier>_d<±DD.D>_<YYYYMMDDTHHMM>_<HHMM>` over [startMs, endMs). */
export function unitName(
  tier: Exclude<MosaicTier, 'deep'>,
  stripDeg: number,
  startMs: number,
  endMs: number,
) {
  return `${tier}_d${stripLabel(stripDeg)}_${stamp(startMs)}_${hhmm(endMs)}`;
}

/** `deep_<label>_<ra0>-<ra1>_<from>-<to>`: RA in degrees (one decimal), dates YYYYMMDD of the window. */
export function deepName(label: string, raMinDeg: number, raMaxDeg: number, fromMs: number, toMs: number) {
  return `deep_${label}_${raMinDeg.toFixed(1)}-${raMaxDeg.toFixed(1)}_${ymd(fromMs)}-${ymd(toMs - 1)}`;
}

/** SHA-256 (hex) of the sorted (path, size, mtime_ns, ino) tuples. */
export function inputsHash(inputs: readonly Pick<UnitInput, 'path' | 'size' | 'mtimeNs' | 'ino'>[]): string {
  const lines = inputs
    .map((i) => `${i.path}\t${i.size}\t${i.mtimeNs}\t${i.ino}\n`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return crypto.createHash('sha256').update(lines.join('')).digest('hex');
}

/** numpy's median of a few values (lib/fits/sorted.ts). */
export function median(xs: readonly number[]): number {
  return medianInPlace(Float64Array.from(xs), 'float64');
}

/** RAs unwrapped around the first one (a run across 0h stays contiguous). */
export function unwrapRa(ras: readonly number[]): number[] {
  const ref = ras[0] ?? 0;
  return ras.map((r) => ref + ((((r - ref + 540) % 360) + 360) % 360) - 180);
}

const norm360 = (ra: number) => ((ra % 360) + 360) % 360;

export interface GridOptions {
  frame: string;
  projection: 'SIN' | 'TAN';
  /** null: the median input pixel. */
  pixelArcsec: number | null;
}

/** The builder's peak memory for a unit (lib/mosaic/memory.ts: the model the builder checks too). */
export function unitMemoryBytes(grid: Pick<MosaicGrid, 'nx' | 'ny'>, inputs: readonly UnitInput[]) {
  return estimateMemoryBytes(grid.nx * grid.ny, Math.max(...inputs.map((i) => i.nx * i.ny)));
}

/**
 * The grid of a unit: centre at the middle of the inputs' RA span and their median declination; width on the
 * sky (RA span + image width / cos δ) · cos δ; height the image height plus the declination spread.
 */
export function gridFor(
  inputs: readonly UnitInput[],
  o: GridOptions,
): MosaicGrid & { raMin: number; raMax: number } {
  const pix = o.pixelArcsec ?? median(inputs.map((i) => i.pixelArcsec));
  const ras = unwrapRa(inputs.map((i) => i.raDeg));
  const raMin = Math.min(...ras);
  const raMax = Math.max(...ras);
  const decs = inputs.map((i) => i.decDeg);
  const dec = median(decs);
  const cosd = Math.max(Math.cos((dec * Math.PI) / 180), 1e-6);
  const imgW = (median(inputs.map((i) => i.nx)) * median(inputs.map((i) => i.pixelArcsec))) / 3600;
  const imgH = (median(inputs.map((i) => i.ny)) * median(inputs.map((i) => i.pixelArcsec))) / 3600;
  const widthSky = (raMax - raMin + imgW / cosd) * cosd;
  const heightSky = Math.max(...decs) - Math.min(...decs) + imgH;
  return {
    frame: o.frame,
    projection: o.projection,
    center: { ra: norm360((raMin + raMax) / 2), dec },
    pixel_arcsec: pix,
    nx: Math.ceil((widthSky * 3600) / pix),
    ny: Math.ceil((heightSky * 3600) / pix),
    raMin: norm360(raMin),
    raMax: norm360(raMax),
  };
}

export interface SizedPart {
  inputs: UnitInput[];
  grid: MosaicGrid & { raMin: number; raMax: number };
  estMemoryBytes: number;
}

/**
 * The unit as one canvas when it fits memoryMaxBytes and maxCanvasPixels, else split in RA into the fewest
 * contiguous groups (in observation order, which is RA order along a strip) that each fit. null when even a
 * single input does not fit (grid_too_large).
 */
export function splitToFit(
  inputs: readonly UnitInput[],
  o: GridOptions & { memoryMaxBytes: number; maxCanvasPixels: number },
): SizedPart[] | null {
  for (let k = 1; k <= inputs.length; k++) {
    const parts: SizedPart[] = [];
    for (let p = 0; p < k; p++) {
      const group = inputs.slice(
        Math.floor((p * inputs.length) / k),
        Math.floor(((p + 1) * inputs.length) / k),
      );
      const grid = gridFor(group, o);
      const estMemoryBytes = unitMemoryBytes(grid, group);
      if (estMemoryBytes > o.memoryMaxBytes || grid.nx * grid.ny > o.maxCanvasPixels) break;
      parts.push({ inputs: group, grid, estMemoryBytes });
    }
    if (parts.length === k) return parts;
  }
  return null;
}
