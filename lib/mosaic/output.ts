// Writing a finished canvas: the mosaic (num/W, NaN where W = 0) and the weight map W (Jy⁻², 0 where no tile
// contributes) as float32 FITS with the grid's WCS and the builder's keywords, each to `<file>.partial`,
// fsynced, then renamed into place (weights first, the mosaic last: a present mosaic means both are done)
// and the folder fsynced. A failure removes what it wrote.
import fs from 'node:fs';
import path from 'node:path';
import { writeFitsImage, type HeaderCard } from '../fits/write.js';
import type { CanvasStats, MosaicCanvas } from './accumulate.js';
import type { InspectedInput } from './inputs.js';
import type { MosaicManifest } from './manifest.js';
import { wcsCards, type CelestialWcs } from './wcs.js';

export interface OutputInfo {
  nUsed: number;
  medianInputNoise: number | null;
  first: InspectedInput;
  builderVersion: string;
}

/** RADESYS and EQUINOX cards of a frame key ("ICRS", "FK5/2000", "FK4/1950"). */
export function frameCards(frame: string): HeaderCard[] {
  const [sys, eq] = frame.split('/');
  const cards: HeaderCard[] = [['RADESYS', sys, 'frame of the inputs (never converted)']];
  if (eq !== undefined) cards.push(['EQUINOX', Number(eq)]);
  return cards;
}

/** Solid angle of one canvas pixel in square degrees (the projection's area scale at that pixel). */
export function pixelAreaSqDeg(grid: CelestialWcs, x: number, y: number): number {
  const D2R = Math.PI / 180;
  const u = grid.cd[0] * (x + 1 - grid.crpix[0]) * D2R;
  const v = grid.cd[3] * (y + 1 - grid.crpix[1]) * D2R;
  const r2 = u * u + v * v;
  const flat = Math.abs(grid.cd[0] * grid.cd[3]);
  if (grid.projection === 'SIN') return r2 < 1 ? flat / Math.sqrt(1 - r2) : 0;
  return flat / Math.pow(1 + r2, 1.5); // TAN
}

function copyCards(h: InspectedInput['header'], keys: string[]): HeaderCard[] {
  const out: HeaderCard[] = [];
  for (const k of keys) {
    const v = h.values.get(k);
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out.push([k, v]);
  }
  return out;
}

export function writeMosaicFiles(
  m: MosaicManifest,
  canvas: MosaicCanvas,
  grid: CelestialWcs,
  stats: CanvasStats,
  info: OutputInfo,
): { bytes: number; coverageSqDeg: number } {
  fs.mkdirSync(path.dirname(m.outputs.fits), { recursive: true });
  fs.mkdirSync(path.dirname(m.outputs.weights), { recursive: true });
  const { nx, ny } = canvas;
  const bunitIn = info.first.header.values.get('BUNIT');
  const common: HeaderCard[] = [
    ...wcsCards(grid).map(([k, v]): HeaderCard => [k, v]),
    ...frameCards(m.grid.frame),
    ['OBJECT', m.name],
    ['TELESCOP', 'DSA-110'],
    ...copyCards(info.first.header, ['BMAJ', 'BMIN', 'BPA']),
    ['RESTFRQ', info.first.freqHz, 'Hz, of the first input (beam model)'],
    ['NIMAGES', info.nUsed, 'inputs that contributed'],
    ['EFFNOISE', stats.effectiveNoiseJy ?? 0, 'Jy, median 1/sqrt(W) where W >= 0.5 max W'],
    ['MEDRMS', info.medianInputNoise ?? 0, 'Jy, median input noise before interpolation'],
    ['PBMODEL', 'AIRY', 'drift-averaged Airy beam per tile at its pointing'],
    ['PBCUT', m.weighting.pb_cutoff, 'contributions with A below this dropped'],
    ['DISHDIAM', info.first.input.pb.dish_m, 'm'],
    ['WEIGHTNG', 'PB2/VAR', 'S = sum(A I/s2)/sum(A2/s2)'],
    ['INTERP', m.interpolation.toUpperCase()],
    ['PLANID', m.plan_id],
    ['INHASH', m.inputs_hash],
    ['ORIGIN', 'contimg mosaic-build'],
    ['BUILDER', info.builderVersion],
    ['DATE', new Date().toISOString().slice(0, 19)],
  ];
  const row = new Float32Array(nx);
  const fitsPartial = `${m.outputs.fits}.partial`;
  const weightsPartial = `${m.outputs.weights}.partial`;
  let coverage = 0;
  let bytes = writeFitsImage({
    path: weightsPartial,
    bitpix: -32,
    axes: [nx, ny],
    cards: [['BUNIT', 'Jy**-2', 'W = sum(A^2/sigma^2); noise map 1/sqrt(W)'], ['BTYPE', 'Weight'], ...common],
    row: (y) => {
      const o = y * nx;
      for (let x = 0; x < nx; x++) {
        const w = canvas.weight[o + x];
        row[x] = w;
        if (w > 0) coverage += pixelAreaSqDeg(grid, x, y);
      }
      return row;
    },
    fsync: true,
  });
  bytes += writeFitsImage({
    path: fitsPartial,
    bitpix: -32,
    axes: [nx, ny],
    cards: [
      ['BUNIT', typeof bunitIn === 'string' && bunitIn.trim() !== '' ? bunitIn : 'JY/BEAM'],
      ['BTYPE', 'Intensity'],
      ['COVERAGE', coverage, 'sq deg with W > 0'],
      ...common,
    ],
    row: (y) => {
      const o = y * nx;
      for (let x = 0; x < nx; x++) row[x] = canvas.value(o + x);
      return row;
    },
    fsync: true,
  });
  try {
    fs.renameSync(weightsPartial, m.outputs.weights);
    fs.renameSync(fitsPartial, m.outputs.fits);
  } catch (e) {
    fs.rmSync(m.outputs.weights, { force: true });
    throw e;
  }
  for (const dir of new Set([path.dirname(m.outputs.fits), path.dirname(m.outputs.weights)])) {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  return { bytes, coverageSqDeg: coverage };
}
