// A mosaic FITS and its weight map for QA tests, written with lib/fits/write.ts (no builder involved): a SIN
// grid at (raDeg, decDeg), Gaussian noise of noiseJy (seeded), point sources convolved with a round Gaussian
// beam (peak = flux in Jy/beam), and W = 1/σ_w² Jy⁻² where σ_w is the noise the weights claim. Sky positions
// of pixels come from an inverse SIN written here independently of the code under test.
import path from 'node:path';
import { writeFitsImage, type HeaderCard } from '../../lib/fits/write.js';
import { mulberry32 } from './random.js';

const DEG = Math.PI / 180;

export interface MosaicFixture {
  dir: string;
  name?: string;
  nx: number;
  ny: number;
  raDeg?: number;
  decDeg?: number;
  pixelArcsec?: number;
  beamArcsec?: number;
  noiseJy: number;
  seed?: number;
  /** Sources at 0-based pixel positions (fractional allowed), peak flux in Jy/beam. */
  sources?: { x: number; y: number; fluxJy: number }[];
  /** The noise the weights claim per pixel (default: the true noise): W = 1/claimed². */
  claimedNoiseJy?: number | ((x: number, y: number) => number);
  /** Pixels outside this predicate are NaN in the mosaic and 0 in the weights. */
  covered?: (x: number, y: number) => boolean;
  /** Pixels inside the coverage made NaN in the mosaic only (holes). */
  hole?: (x: number, y: number) => boolean;
  /** Added to every pixel of row y (banding). */
  rowOffset?: (y: number) => number;
  effNoiseJy?: number | null;
  extraCards?: HeaderCard[];
}

export interface MosaicFiles {
  fits: string;
  weights: string;
  /** 0-based pixel → (ra, dec) in degrees, by the SIN inverse. */
  skyOf: (x: number, y: number) => { raDeg: number; decDeg: number };
}

export function writeMosaicPair(o: MosaicFixture): MosaicFiles {
  const name = o.name ?? 'quicklook_test';
  const ra0 = o.raDeg ?? 128.7287;
  const dec0 = o.decDeg ?? 55.5725;
  const pix = (o.pixelArcsec ?? 10) / 3600;
  const beam = (o.beamArcsec ?? 36) / 3600;
  const crpix1 = Math.floor(o.nx / 2) + 1;
  const crpix2 = Math.floor(o.ny / 2) + 1;
  const cards: HeaderCard[] = [
    ['CTYPE1', 'RA---SIN'],
    ['CRVAL1', ra0],
    ['CDELT1', -pix],
    ['CRPIX1', crpix1],
    ['CUNIT1', 'deg'],
    ['CTYPE2', 'DEC--SIN'],
    ['CRVAL2', dec0],
    ['CDELT2', pix],
    ['CRPIX2', crpix2],
    ['CUNIT2', 'deg'],
    ['RADESYS', 'ICRS'],
    ['BUNIT', 'JY/BEAM'],
    ['BMAJ', beam],
    ['BMIN', beam],
    ['BPA', 0],
    ['RESTFRQ', 1.4e9],
    ...(o.effNoiseJy === null ? [] : ([['EFFNOISE', o.effNoiseJy ?? o.noiseJy]] as HeaderCard[])),
    ...(o.extraCards ?? []),
  ];
  const rand = mulberry32(o.seed ?? 7);
  const gauss = (): number => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const sigPix = beam / pix / 2.3548200450309493;
  const sources = o.sources ?? [];
  const covered = o.covered ?? (() => true);
  const fits = path.join(o.dir, `${name}.fits`);
  const weights = path.join(o.dir, `${name}.weights.fits`);
  writeFitsImage({
    path: fits,
    bitpix: -32,
    axes: [o.nx, o.ny],
    cards,
    row: (y) => {
      const row = new Float32Array(o.nx);
      for (let x = 0; x < o.nx; x++) {
        let v = o.noiseJy * gauss() + (o.rowOffset?.(y) ?? 0);
        for (const s of sources) {
          const d2 = (x - s.x) ** 2 + (y - s.y) ** 2;
          if (d2 < 100 * sigPix * sigPix) v += s.fluxJy * Math.exp(-d2 / (2 * sigPix * sigPix));
        }
        row[x] = covered(x, y) && !o.hole?.(x, y) ? v : NaN;
      }
      return row;
    },
  });
  const claimed = o.claimedNoiseJy ?? o.noiseJy;
  writeFitsImage({
    path: weights,
    bitpix: -32,
    axes: [o.nx, o.ny],
    cards: cards.filter(([k]) => k !== 'BUNIT' && k !== 'EFFNOISE').concat([['BUNIT', 'JY**-2']]),
    row: (y) => {
      const row = new Float32Array(o.nx);
      for (let x = 0; x < o.nx; x++) {
        const c = typeof claimed === 'number' ? claimed : claimed(x, y);
        row[x] = covered(x, y) ? 1 / (c * c) : 0;
      }
      return row;
    },
  });
  const skyOf = (x: number, y: number) => {
    // SIN inverse: intermediate (ξ, η) in radians → direction cosines → (α, δ).
    const xi = -pix * (x + 1 - crpix1) * DEG;
    const eta = pix * (y + 1 - crpix2) * DEG;
    const n = Math.sqrt(1 - xi * xi - eta * eta);
    const d0 = dec0 * DEG;
    const dec = Math.asin(eta * Math.cos(d0) + n * Math.sin(d0));
    const ra = ra0 * DEG + Math.atan2(xi, n * Math.cos(d0) - eta * Math.sin(d0));
    return { raDeg: (((ra / DEG) % 360) + 360) % 360, decDeg: dec / DEG };
  };
  return { fits, weights, skyOf };
}
