// Simulated DSA-110 mosaic tiles: one drift-scan image per 309 s observation, stepped 1.291° in RA along a
// declination strip (+55.57° by default), written as the imaging pipeline writes them (BITPIX −32, four
// axes RA---SIN, DEC--SIN, FREQ, STOKES with NAXIS3 = NAXIS4 = 1, RADESYS FK5, EQUINOX 2000). Each tile has
// white Gaussian noise of a known σ and the sky's point sources, each attenuated by that tile's own primary
// beam (the drift-averaged Airy pattern at the tile's pointing) and drawn as the restoring beam. The true
// beam uses 64 drift samples, more than the builder's, so a test compares the builder against a finer truth.
// Used by the mosaic builder's tests and bench, the planner's and dispatcher's tests, and the demo.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFitsImage, type HeaderCard } from '../fits/write.js';
import { makeBeam } from '../mosaic/beam.js';
import type { MosaicGrid, MosaicManifest, MosaicTier } from '../mosaic/manifest.js';
import { pixelToWorld, worldToPixel, type CelestialWcs } from '../mosaic/wcs.js';
import { gaussian, rng } from './fits-images.js';

/** DSA-110 defaults: strip declination, RA step per observation, cadence, dish, centre frequency. */
export const DSA110_STRIP_DEC_DEG = 55.57;
export const DSA110_RA_STEP_DEG = 1.291;
export const DSA110_CADENCE_S = 309;
export const DSA110_DISH_M = 4.65;
export const DSA110_FREQ_HZ = 1.405e9;
const TRUTH_DRIFT_SAMPLES = 64;
const PBCOR_LIMIT = 0.05;

export interface SkySource {
  ra: number;
  dec: number;
  /** Flux density, Jy (the restoring beam's peak for a point source). */
  fluxJy: number;
}

export interface MosaicTilesOptions {
  dir: string;
  /** Number of tiles. */
  n: number;
  /** Pixels per side (default 512) and pixel size (default: the tile spans 3.5°). */
  nx?: number;
  ny?: number;
  cellArcsec?: number;
  decDeg?: number;
  /** RA of the first pointing (default 120°) and the step between pointings (default 1.291° of RA). */
  ra0Deg?: number;
  raStepDeg?: number;
  /** Noise σ of every tile, or one per tile (Jy/beam, default 1e-3). */
  noiseJy?: number | number[];
  freqHz?: number;
  dishM?: number;
  /** RA drifted through during each observation (default = raStepDeg). */
  smearRaDeg?: number;
  /** Observation mid-time of the first tile, ms since the epoch (default 2026-01-01T00:00:00Z). */
  startMs?: number;
  cadenceS?: number;
  sources?: SkySource[];
  /** Restoring beam FWHM, pixels (default 3). */
  beamFwhmPix?: number;
  seed?: number;
  /** File stem of tile i (default `tile_<i>`); `.image.fits` is appended. */
  name?: (i: number) => string;
  /** NaN outside the circle of radius 0.48·N (default false). */
  nanEdge?: boolean;
  /** Every tile at the first pointing (several looks at one field). */
  samePointing?: boolean;
  /**
   * `pbcor`: write the primary-beam-corrected image, as CASA's `.image.pbcor` (pixel ÷ the tile's true beam;
   * NaN where the beam is below 0.05, CASA's pblimit). Default `image` (flat noise).
   */
  kind?: 'image' | 'pbcor';
}

export interface SimulatedTile {
  path: string;
  index: number;
  pointing: { ra: number; dec: number };
  noiseJy: number;
  obsMidMs: number;
  obsMidUtc: string;
  nx: number;
  ny: number;
  cellArcsec: number;
  freqHz: number;
  dishM: number;
  smearRaDeg: number;
  /** The sky sources as this tile saw them: tile pixel (0-based) and the beam-attenuated flux. */
  sources: (SkySource & { x: number; y: number; apparentJy: number })[];
}

/** Write n tiles under dir; returns them in pointing order. */
export function writeMosaicTiles(o: MosaicTilesOptions): SimulatedTile[] {
  fs.mkdirSync(o.dir, { recursive: true });
  const nx = o.nx ?? 512;
  const ny = o.ny ?? nx;
  const cellArcsec = o.cellArcsec ?? (3.5 * 3600) / nx;
  const dec = o.decDeg ?? DSA110_STRIP_DEC_DEG;
  const step = o.raStepDeg ?? DSA110_RA_STEP_DEG;
  const freqHz = o.freqHz ?? DSA110_FREQ_HZ;
  const dishM = o.dishM ?? DSA110_DISH_M;
  const smear = o.smearRaDeg ?? step;
  const start = o.startMs ?? Date.UTC(2026, 0, 1);
  const tiles: SimulatedTile[] = [];
  for (let i = 0; i < o.n; i++) {
    const ra = ((((o.ra0Deg ?? 120) + (o.samePointing ? 0 : i * step)) % 360) + 360) % 360;
    const noise = Array.isArray(o.noiseJy) ? o.noiseJy[i] : (o.noiseJy ?? 1e-3);
    const obsMidMs = start + i * (o.cadenceS ?? DSA110_CADENCE_S) * 1000;
    const tile: SimulatedTile = {
      path: path.join(o.dir, `${o.name ? o.name(i) : `tile_${String(i).padStart(3, '0')}`}.image.fits`),
      index: i,
      pointing: { ra, dec },
      noiseJy: noise,
      obsMidMs,
      obsMidUtc: new Date(obsMidMs).toISOString(),
      nx,
      ny,
      cellArcsec,
      freqHz,
      dishM,
      smearRaDeg: smear,
      sources: [],
    };
    writeTile(tile, o, (o.seed ?? 1) * 7919 + i);
    tiles.push(tile);
  }
  return tiles;
}

/** The SIN WCS of a simulated tile (reference pixel nx/2 + 1, as WSClean writes it). */
export function tileWcs(t: Pick<SimulatedTile, 'pointing' | 'nx' | 'ny' | 'cellArcsec'>): CelestialWcs {
  const d = t.cellArcsec / 3600;
  return {
    projection: 'SIN',
    crpix: [t.nx / 2 + 1, t.ny / 2 + 1],
    crval: [t.pointing.ra, t.pointing.dec],
    cd: [-d, 0, 0, d],
    lonpole: 180,
  };
}

function writeTile(t: SimulatedTile, o: MosaicTilesOptions, seed: number): void {
  const gauss = gaussian(rng(seed));
  const beam = makeBeam(
    { dishM: t.dishM, freqHz: t.freqHz, pointing: t.pointing, smearRaDeg: t.smearRaDeg },
    t.smearRaDeg > 0 ? TRUTH_DRIFT_SAMPLES : 1,
  );
  const wcs = tileWcs(t);
  const px = new Float64Array(2);
  for (const s of o.sources ?? []) {
    worldToPixel(wcs, s.ra, s.dec, px);
    if (!(px[0] > -10 && px[1] > -10 && px[0] < t.nx + 10 && px[1] < t.ny + 10)) continue;
    t.sources.push({ ...s, x: px[0], y: px[1], apparentJy: s.fluxJy * beam(s.ra, s.dec) });
  }
  const sigma = (o.beamFwhmPix ?? 3) / 2.3548200450309493;
  const reach = Math.ceil(5 * sigma);
  const row = new Float32Array(t.nx);
  const [cx, cy, r2] = [(t.nx - 1) / 2, (t.ny - 1) / 2, (0.48 * Math.min(t.nx, t.ny)) ** 2];
  const d = t.cellArcsec / 3600;
  const cards: HeaderCard[] = [
    ['BUNIT', 'JY/BEAM'],
    ['BMAJ', (o.beamFwhmPix ?? 3) * d],
    ['BMIN', (o.beamFwhmPix ?? 3) * d],
    ['BPA', 0],
    ['RADESYS', 'FK5'],
    ['EQUINOX', 2000],
    ['TELESCOP', 'DSA-110'],
    ['OBJECT', 'simulated mosaic tile'],
    ['CTYPE1', 'RA---SIN'],
    ['CRPIX1', t.nx / 2 + 1],
    ['CRVAL1', t.pointing.ra],
    ['CDELT1', -d],
    ['CUNIT1', 'deg'],
    ['CTYPE2', 'DEC--SIN'],
    ['CRPIX2', t.ny / 2 + 1],
    ['CRVAL2', t.pointing.dec],
    ['CDELT2', d],
    ['CUNIT2', 'deg'],
    ['CTYPE3', 'FREQ'],
    ['CRPIX3', 1],
    ['CRVAL3', t.freqHz],
    ['CDELT3', 1.875e8],
    ['CUNIT3', 'Hz'],
    ['CTYPE4', 'STOKES'],
    ['CRPIX4', 1],
    ['CRVAL4', 1],
    ['CDELT4', 1],
    ['DATE-OBS', new Date(t.obsMidMs - (DSA110_CADENCE_S / 2) * 1000).toISOString().slice(0, 23)],
    [
      'HISTORY',
      o.kind === 'pbcor'
        ? 'simulated by lib/sim/mosaic-tiles, divided by this tile PB (pbcor)'
        : 'simulated by lib/sim/mosaic-tiles (flat noise, sources attenuated by this tile PB)',
    ],
  ];
  writeFitsImage({
    path: t.path,
    bitpix: -32,
    axes: [t.nx, t.ny, 1, 1],
    cards,
    row: (y) => {
      for (let x = 0; x < t.nx; x++) row[x] = t.noiseJy * gauss();
      for (const s of t.sources) {
        const dy = y - s.y;
        if (Math.abs(dy) > reach) continue;
        const x0 = Math.max(0, Math.floor(s.x - reach));
        const x1 = Math.min(t.nx - 1, Math.ceil(s.x + reach));
        for (let x = x0; x <= x1; x++) {
          row[x] += s.apparentJy * Math.exp(-((x - s.x) ** 2 + dy * dy) / (2 * sigma * sigma));
        }
      }
      if (o.nanEdge) for (let x = 0; x < t.nx; x++) if ((x - cx) ** 2 + (y - cy) ** 2 > r2) row[x] = NaN;
      if (o.kind === 'pbcor') {
        for (let x = 0; x < t.nx; x++) {
          pixelToWorld(wcs, x, y, px);
          const a = beam(px[0], px[1]);
          row[x] = a >= PBCOR_LIMIT ? row[x] / a : NaN;
        }
      }
      return row;
    },
  });
}

/** A SIN grid over the tiles in their frame: centred on their mean pointing, the tiles' pixel unless given. */
export function gridForTiles(
  tiles: SimulatedTile[],
  o: { pixelArcsec?: number; marginDeg?: number; projection?: 'SIN' | 'TAN' } = {},
): MosaicGrid {
  const pix = o.pixelArcsec ?? tiles[0].cellArcsec;
  const dec = tiles.reduce((s, t) => s + t.pointing.dec, 0) / tiles.length;
  // Mean RA through unit vectors, so a run across 0° is centred correctly.
  const [sx, sy] = tiles.reduce(
    ([a, b], t) => [
      a + Math.cos((t.pointing.ra * Math.PI) / 180),
      b + Math.sin((t.pointing.ra * Math.PI) / 180),
    ],
    [0, 0],
  );
  const ra = ((Math.atan2(sy, sx) * 180) / Math.PI + 360) % 360;
  const raOff = tiles.map((t) => ((((t.pointing.ra - ra) % 360) + 540) % 360) - 180);
  const spanRa = (Math.max(...raOff) - Math.min(...raOff)) * Math.cos((dec * Math.PI) / 180);
  const tileW = (tiles[0].nx * tiles[0].cellArcsec) / 3600;
  const tileH = (tiles[0].ny * tiles[0].cellArcsec) / 3600;
  const margin = o.marginDeg ?? 0.05;
  return {
    frame: 'FK5/2000',
    projection: o.projection ?? 'SIN',
    center: { ra, dec },
    pixel_arcsec: pix,
    nx: Math.ceil(((spanRa + tileW + 2 * margin) * 3600) / pix),
    ny: Math.ceil(((tileH + 2 * margin) * 3600) / pix),
  };
}

/** SHA-256 of the sorted (path, size, mtime_ns, ino) tuples, as the planner computes inputs_hash. */
export function inputsHash(inputs: { path: string; size: number; mtime_ns: string; ino: number }[]): string {
  const rows = inputs
    .map((i) => `${i.path}\t${i.size}\t${i.mtime_ns}\t${i.ino}`)
    .sort()
    .join('\n');
  return crypto.createHash('sha256').update(rows).digest('hex');
}

export interface ManifestFromTilesOptions {
  outputDir: string;
  name?: string;
  tier?: MosaicTier;
  planId?: number;
  grid?: MosaicGrid;
  interpolation?: 'nearest' | 'bilinear';
  pbCutoff?: number;
  memoryBytes?: number;
  /** Per-tile overrides of the manifest input (dish, kind, smear...). */
  input?: (t: SimulatedTile) => Partial<MosaicManifest['inputs'][number]>;
}

/** A manifest over the tiles as they are on disk now (fingerprints read from the files). */
export function manifestFromTiles(tiles: SimulatedTile[], o: ManifestFromTilesOptions): MosaicManifest {
  const name = o.name ?? 'quicklook_sim';
  const inputs = tiles.map((t) => {
    const st = fs.statSync(t.path, { bigint: true });
    return {
      path: t.path,
      size: Number(st.size),
      mtime_ns: st.mtimeNs.toString(),
      ino: Number(st.ino),
      obs_mid_utc: t.obsMidUtc,
      ra_deg: t.pointing.ra,
      dec_deg: t.pointing.dec,
      noise_jy: t.noiseJy,
      kind: 'image' as const,
      pb: {
        model: 'airy' as const,
        dish_m: t.dishM,
        freq_hz: t.freqHz,
        pointing: t.pointing,
        smear_ra_deg: t.smearRaDeg,
      },
      ...o.input?.(t),
    };
  });
  return {
    version: 1,
    plan_id: o.planId ?? 1,
    name,
    tier: o.tier ?? 'quicklook',
    inputs_hash: inputsHash(inputs),
    inputs,
    grid: o.grid ?? gridForTiles(tiles),
    weighting: { scheme: 'pb2_over_var', pb_cutoff: o.pbCutoff ?? 0.2 },
    interpolation: o.interpolation ?? 'nearest',
    outputs: {
      fits: path.join(o.outputDir, `${name}.fits`),
      weights: path.join(o.outputDir, `${name}.weights.fits`),
    },
    limits: { timeout_s: 300, memory_bytes: o.memoryBytes ?? 4 * 1024 ** 3 },
    result_path: path.join(o.outputDir, `${name}.result.json`),
  };
}
