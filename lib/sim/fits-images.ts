// Simulated continuum images, as WSClean writes them: BITPIX −32 with four axes (RA---SIN, DEC--SIN, FREQ,
// STOKES; NAXIS3 = NAXIS4 = 1), Gaussian noise, point sources convolved with an elliptical beam, BMAJ/BMIN/
// BPA, and NaN outside the primary-beam circle (radius 0.48·N), like the research file's gen.py. Rows are
// generated and written in strips, so an 8192² image needs no more memory than a 4096² one.
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/index.js';
import { lstHours } from '../astro/sidereal.js';
import { DSA110_SITE } from '../astro/site.js';
import { writeFitsImage, type HeaderCard } from '../fits/write.js';

export interface SimulatedImageOptions {
  dir: string;
  /** File name; `.fits` is appended when missing. */
  name: string;
  nx: number;
  ny: number;
  seed?: number;
  /** Noise σ in Jy/beam (default 1e-4). */
  noiseJy?: number;
  /** Number of point sources (default 50). */
  nSources?: number;
  /** Peak flux range of the sources in Jy (default 1e-3 .. 0.5). */
  fluxJy?: [number, number];
  /** Pixel size in degrees (default 3.5° / nx, the DSA-110 field). */
  cellDeg?: number;
  /** Beam FWHM in pixels (major, minor) and position angle in degrees (default 4, 3, 30). */
  beamPix?: [number, number, number];
  raDeg?: number;
  decDeg?: number;
  freqHz?: number;
  bandwidthHz?: number;
  dateObs?: string;
  /** NaN outside the primary-beam circle (default true). */
  nanEdge?: boolean;
  /** Extra header cards. */
  cards?: HeaderCard[];
}

/** mulberry32: a small, fast, seedable PRNG (tests must be reproducible). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

interface Source {
  x: number;
  y: number;
  flux: number;
}

export function writeSimulatedImage(o: SimulatedImageOptions): string {
  const file = path.join(o.dir, o.name.endsWith('.fits') ? o.name : `${o.name}.fits`);
  const rand = rng(o.seed ?? 1);
  const gauss = gaussian(rand);
  const noise = o.noiseJy ?? 1e-4;
  const [fmin, fmax] = o.fluxJy ?? [1e-3, 0.5];
  const [bmajPix, bminPix, bpaDeg] = o.beamPix ?? [4, 3, 30];
  const cell = o.cellDeg ?? 3.5 / o.nx;
  const sources: Source[] = Array.from({ length: o.nSources ?? 50 }, () => ({
    x: rand() * o.nx,
    y: rand() * o.ny,
    flux: fmin * Math.pow(fmax / fmin, rand()),
  }));
  const sig = (fwhm: number): number => fwhm / 2.3548200450309493;
  const [sa, sb] = [sig(bmajPix), sig(bminPix)];
  const th = ((bpaDeg + 90) * Math.PI) / 180;
  const [ct, st] = [Math.cos(th), Math.sin(th)];
  const reach = Math.ceil(4 * sa);
  const cx = (o.nx - 1) / 2;
  const cy = (o.ny - 1) / 2;
  const radius2 = (0.48 * Math.min(o.nx, o.ny)) ** 2;
  const row = new Float32Array(o.nx);
  const bySourceRow = new Map<number, Source[]>();
  for (const s of sources) {
    for (let y = Math.max(0, Math.floor(s.y) - reach); y <= Math.min(o.ny - 1, Math.ceil(s.y) + reach); y++) {
      let list = bySourceRow.get(y);
      if (!list) bySourceRow.set(y, (list = []));
      list.push(s);
    }
  }
  const cards: HeaderCard[] = [
    ['BSCALE', 1],
    ['BZERO', 0],
    ['BUNIT', 'JY/BEAM', 'Units are in Jansky per beam'],
    ['BMAJ', bmajPix * cell],
    ['BMIN', bminPix * cell],
    ['BPA', bpaDeg],
    ['EQUINOX', 2000],
    ['BTYPE', 'Intensity'],
    ['TELESCOP', 'DSA-110'],
    ['OBJECT', 'simulated field'],
    ['CTYPE1', 'RA---SIN'],
    ['CRPIX1', o.nx / 2 + 1],
    ['CRVAL1', o.raDeg ?? 128.7287],
    ['CDELT1', -cell],
    ['CUNIT1', 'deg'],
    ['CTYPE2', 'DEC--SIN'],
    ['CRPIX2', o.ny / 2 + 1],
    ['CRVAL2', o.decDeg ?? 55.5725],
    ['CDELT2', cell],
    ['CUNIT2', 'deg'],
    ['CTYPE3', 'FREQ'],
    ['CRPIX3', 1],
    ['CRVAL3', o.freqHz ?? 1.4049e9],
    ['CDELT3', o.bandwidthHz ?? 1.875e8],
    ['CUNIT3', 'Hz'],
    ['CTYPE4', 'STOKES'],
    ['CRPIX4', 1],
    ['CRVAL4', 1],
    ['CDELT4', 1],
    ['CUNIT4', ''],
    ['SPECSYS', 'TOPOCENT'],
    ['DATE-OBS', o.dateObs ?? '2026-01-01T00:00:00.0'],
    ['WSCIMGWG', 12345.6],
    ['WSCWEIGH', 'Briggs(0)'],
    ['HISTORY', 'simulated by contimg simulate (lib/sim/fits-images)'],
    ...(o.cards ?? []),
  ];
  writeFitsImage({
    path: file,
    bitpix: -32,
    axes: [o.nx, o.ny, 1, 1],
    cards,
    row: (y) => {
      for (let x = 0; x < o.nx; x++) row[x] = noise * gauss();
      for (const s of bySourceRow.get(y) ?? []) {
        const dy = y - s.y;
        for (
          let x = Math.max(0, Math.floor(s.x) - reach);
          x <= Math.min(o.nx - 1, Math.ceil(s.x) + reach);
          x++
        ) {
          const dx = x - s.x;
          const u = dx * ct + dy * st;
          const v = -dx * st + dy * ct;
          row[x] += s.flux * Math.exp(-0.5 * ((u / sa) ** 2 + (v / sb) ** 2));
        }
      }
      if (o.nanEdge ?? true) {
        const dy2 = (y - cy) ** 2;
        for (let x = 0; x < o.nx; x++) if ((x - cx) ** 2 + dy2 > radius2) row[x] = NaN;
      }
      return row;
    },
  });
  return file;
}

/**
 * Register an image in the pipeline database the way the imaging pipeline does (INSERT OR REPLACE on path,
 * so re-imaging gives the row a new id), with the columns the pipeline fills from the header. The simulator
 * plays the pipeline here; the daemons themselves only ever read this table.
 */
export function insertImageRow(
  pipelineDb: Db,
  imagePath: string,
  o: { msPath?: string; type?: string; createdAtS?: number; beamArcsec?: number; imsize?: number } = {},
): number {
  return pipelineDb.write((c) => {
    const info = c
      .prepare(
        `INSERT OR REPLACE INTO images (path, ms_path, created_at, type, beam_major_arcsec, imsize_x, imsize_y)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        imagePath,
        o.msPath ?? imagePath.replace(/(-image)?\.fits$/, '.ms'),
        o.createdAtS ?? Date.now() / 1000,
        o.type ?? '5min',
        o.beamArcsec ?? null,
        o.imsize ?? null,
        o.imsize ?? null,
      );
    return Number(info.lastInsertRowid);
  });
}

/**
 * The image the imaging pipeline would make of one observation: written under dir as `<groupId>-image.fits`
 * and, when a pipeline database is given, registered in `images` the way the pipeline does, so the
 * thumbnail worker picks it up. Like a drift scan, it is centred on the meridian at the observation's start
 * (RA = local sidereal time at the array, so consecutive observations step 1.291° in RA) on the pointing
 * declination (the simulated subbands' 0.9 rad by default), with σ = 1e-4 Jy: the images quicklook mosaics
 * are made of. `msPath` (default `<groupId>.ms`) should be the converter's output for the group: it is how
 * the mosaic planner finds the observation's time and declination (converter_groups.output_path).
 */
export function writeObservationImage(o: {
  dir: string;
  groupId: string;
  seed: number;
  pipelineDb?: Db;
  msPath?: string;
  decDeg?: number;
}): string {
  fs.mkdirSync(o.dir, { recursive: true });
  const startMs = Date.parse(`${o.groupId}Z`);
  const imagePath = writeSimulatedImage({
    dir: o.dir,
    name: `${o.groupId}-image.fits`,
    nx: 256,
    ny: 256,
    seed: o.seed,
    dateObs: o.groupId,
    ...(Number.isFinite(startMs) && { raDeg: lstHours(startMs, { lonDeg: DSA110_SITE.lonDeg }) * 15 }),
    decDeg: o.decDeg ?? (0.9 * 180) / Math.PI,
  });
  const msPath = o.msPath ?? `${o.groupId}.ms`;
  if (o.pipelineDb) insertImageRow(o.pipelineDb, imagePath, { msPath, imsize: 256 });
  return imagePath;
}
