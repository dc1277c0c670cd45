// Shared by the mosaic builder's acceptance tests: manifests for real files, reading outputs back, robust noise.
import fs from 'node:fs';
import path from 'node:path';
import { openImage, readPlane } from '../../../lib/fits/plane.js';
import type { CardValue } from '../../../lib/fits/header.js';
import type { MosaicGrid, MosaicInput, MosaicManifest } from '../../../lib/mosaic/manifest.js';
import { inputsHash } from '../../../lib/sim/mosaic-tiles.js';

export interface FitsFile {
  nx: number;
  ny: number;
  values: Map<string, CardValue>;
  pixels: Float32Array | Float64Array;
}

export function readFits(p: string): FitsFile {
  const img = openImage(p);
  try {
    return { nx: img.nx, ny: img.ny, values: img.hdu.header.values, pixels: readPlane(img, 0) };
  } finally {
    img.close();
  }
}

/** A manifest input for a file as it is on disk now. */
export function inputFor(
  file: string,
  o: { noiseJy?: number; dishM?: number; pointing: { ra: number; dec: number }; freqHz?: number },
): MosaicInput {
  const st = fs.statSync(file, { bigint: true });
  return {
    path: file,
    size: Number(st.size),
    mtime_ns: st.mtimeNs.toString(),
    ino: Number(st.ino),
    obs_mid_utc: '2026-01-01T00:00:00.000Z',
    ra_deg: o.pointing.ra,
    dec_deg: o.pointing.dec,
    noise_jy: o.noiseJy ?? 1e-3,
    kind: 'image',
    pb: {
      model: 'airy',
      dish_m: o.dishM ?? 4.65,
      freq_hz: o.freqHz ?? 1.405e9,
      pointing: o.pointing,
      smear_ra_deg: 0,
    },
  };
}

export function manifestFor(
  inputs: MosaicInput[],
  grid: MosaicGrid,
  outDir: string,
  o: { name?: string; interpolation?: 'nearest' | 'bilinear'; memoryBytes?: number } = {},
): MosaicManifest {
  const name = o.name ?? 'quicklook_test';
  return {
    version: 1,
    plan_id: 7,
    name,
    tier: 'quicklook',
    inputs_hash: inputsHash(inputs),
    inputs,
    grid,
    weighting: { scheme: 'pb2_over_var', pb_cutoff: 0.2 },
    interpolation: o.interpolation ?? 'nearest',
    outputs: { fits: path.join(outDir, `${name}.fits`), weights: path.join(outDir, `${name}.weights.fits`) },
    limits: { timeout_s: 300, memory_bytes: o.memoryBytes ?? 4 * 1024 ** 3 },
    result_path: path.join(outDir, `${name}.result.json`),
  };
}

export function writeManifest(m: MosaicManifest, file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(m, null, 2));
  return file;
}

/** 1.4826 × the median absolute deviation: the noise the QA measures. */
export function madStd(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const med = s[s.length >> 1];
  const dev = s.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  return 1.4826 * dev[dev.length >> 1];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Files left in a folder with a `.partial` name. */
export function partialsIn(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.partial')) : [];
}

export function countFinite(p: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (Number.isFinite(p[i])) n++;
  return n;
}
