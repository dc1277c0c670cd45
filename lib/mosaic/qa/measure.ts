// The streamed measurement of a mosaic and its weight map W (Jy⁻², the builder's Σ A²/σ²): two passes in
// row strips with positioned reads, memory bounded by the strip size plus sampleMax samples, whatever the
// mosaic's size. Pass 1 finds max W. Pass 2 reads both images in step and, over the inner region
// (W ≥ innerWeightFraction · max W), feeds the library's statistics (every k-th pixel sampled, k fixed by
// the plane size: deterministic, ≤ sampleMax values; the median and MAD are lib/fits' exact selection):
// the mosaic's values for the noise (1.4826 · MAD) and 1/√W for the expected noise; it also counts NaN,
// the planned footprint's coverage, row medians (every row) and column medians (on every r-th row, at most
// sampleMax values), and copies a small window around each reference source.
import { PermanentError } from '../../errors.js';
import { addMoments, Moments } from '../../fits/moments.js';
import { extractMetadata } from '../../fits/metadata.js';
import { openImage, RowReader, streamPlane, stripRows, type OpenImage } from '../../fits/plane.js';
import { checkUnchanged } from '../../fits/render.js';
import { medianInPlace } from '../../fits/sorted.js';
import { StatsAccumulator } from '../../fits/stats.js';
import {
  fitPeak,
  makeWindow,
  expectedFluxJy,
  type ReferenceSource,
  type SourceWindow,
} from './references.js';
import type { QaMetrics } from './rules.js';
import { skyGridOf, type SkyGrid } from './sky.js';

export interface MeasureOptions {
  innerWeightFraction: number;
  sampleMax: number;
  maxPixels: number;
  stripBytes?: number;
  maxBlocks?: number;
  references: ReferenceSource[];
  /**
   * The planned footprint: discs around the planned inputs' pointings, of radiusDeg or a centre's own radius;
   * no centre → coverage not measured.
   */
  footprint: { centers: { raDeg: number; decDeg: number; radiusDeg?: number }[]; radiusDeg: number };
  /** Beam FWHM (deg) when the mosaic header has no BMAJ (e.g. the inputs' median). */
  beamDegFallback?: number | null;
  /** Reference sources fainter than this many times the noise are not used. */
  minReferenceSnr?: number;
}

export interface ReferenceMeasure {
  name: string;
  expectedJy: number;
  peakJy: number | null;
  fluxRatio: number | null;
  offsetBeams: number | null;
  offsetArcsec: number | null;
  offsetPx: number | null;
  used: boolean;
  why?: string;
}

export interface Measurement extends QaMetrics {
  nx: number;
  ny: number;
  maxWeight: number;
  freqHz: number | null;
  beamDeg: number | null;
  references: ReferenceMeasure[];
}

/** Footprint cells are this many pixels on a side: positions are evaluated once per cell, not per pixel. */
const FOOTPRINT_CELL = 8;
/** Rows and columns with fewer inner pixels than this give no median for the banding test. */
const MIN_LINE_PIXELS = 16;

function num(img: OpenImage, key: string): number | null {
  const v = img.hdu.header.values.get(key);
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function maxWeight(w: OpenImage, stripBytes: number | undefined): number {
  const m = new Moments();
  streamPlane(w, 0, (px, _y0, rows) => addMoments(m, px, 0, rows * w.nx), { stripBytes });
  return m.nFinite > 0 ? m.max : 0;
}

/** One byte per FOOTPRINT_CELL² block: 1 inside a disc of the planned footprint (null: not measured). */
function footprintMask(grid: SkyGrid, fp: MeasureOptions['footprint']): Uint8Array | null {
  if (fp.centers.length === 0) return null;
  const cw = Math.ceil(grid.nx / FOOTPRINT_CELL);
  const ch = Math.ceil(grid.ny / FOOTPRINT_CELL);
  const mask = new Uint8Array(cw * ch);
  const discs = fp.centers.map((c) => {
    const [l, m, n] = grid.lmnOf(c.raDeg, c.decDeg);
    return [l, m, n, Math.cos(((c.radiusDeg ?? fp.radiusDeg) * Math.PI) / 180)];
  });
  for (let cy = 0; cy < ch; cy++)
    for (let cx = 0; cx < cw; cx++) {
      const x = Math.min(grid.nx - 1, cx * FOOTPRINT_CELL + (FOOTPRINT_CELL - 1) / 2);
      const y = Math.min(grid.ny - 1, cy * FOOTPRINT_CELL + (FOOTPRINT_CELL - 1) / 2);
      const p = grid.toLmn(x, y);
      if (p && discs.some((d) => d[0] * p[0] + d[1] * p[1] + d[2] * p[2] >= d[3])) mask[cy * cw + cx] = 1;
    }
  return mask;
}

/** Population variance of the finite values (null below 3). */
function variance(v: Float64Array): number | null {
  if (v.length < 3) return null;
  let s = 0;
  for (const x of v) s += x;
  const mean = s / v.length;
  let d2 = 0;
  for (const x of v) d2 += (x - mean) * (x - mean);
  return d2 / v.length;
}

function median(values: number[]): number | null {
  return values.length === 0 ? null : medianInPlace(Float64Array.from(values), 'float64');
}

interface Pass2 {
  innerPixels: number;
  innerNan: number;
  peak: number;
  footprint: number;
  covered: number;
  noise: StatsAccumulator;
  expected: StatsAccumulator;
  rowMedians: number[];
  colStore: Float32Array;
  colRows: number;
}

/** Pass 2: the mosaic streamed, the weights pulled row for row beside it. */
function innerPass(
  img: OpenImage,
  wImg: OpenImage,
  thr: number,
  mask: Uint8Array | null,
  windows: SourceWindow[],
  o: MeasureOptions,
): Pass2 {
  const { nx, ny } = img;
  const rowsPerStrip = stripRows(img, { stripBytes: o.stripBytes });
  const weights = new RowReader(wImg, 0, rowsPerStrip);
  const colEvery = Math.max(1, Math.ceil((ny * nx) / Math.max(nx, o.sampleMax)));
  const colRows = Math.ceil(ny / colEvery);
  const p: Pass2 = {
    innerPixels: 0,
    innerNan: 0,
    peak: -Infinity,
    footprint: 0,
    covered: 0,
    noise: new StatsAccumulator(nx * ny, o.sampleMax),
    expected: new StatsAccumulator(nx * ny, o.sampleMax),
    rowMedians: [],
    colStore: new Float32Array(colRows * nx).fill(NaN),
    colRows,
  };
  const masked = new Float64Array(rowsPerStrip * nx);
  const inv = new Float64Array(rowsPerStrip * nx);
  const line = new Float64Array(nx);
  const cw = Math.ceil(nx / FOOTPRINT_CELL);
  streamPlane(
    img,
    0,
    (px, y0, rows) => {
      const w = weights.read(y0, rows);
      for (let r = 0; r < rows; r++) {
        const y = y0 + r;
        const maskRow = mask ? Math.floor(y / FOOTPRINT_CELL) * cw : -1;
        let k = 0;
        for (let x = 0, i = r * nx; x < nx; x++, i++) {
          const v = px[i];
          const wv = w[i];
          const finite = v - v === 0;
          if (maskRow >= 0 && mask![maskRow + Math.floor(x / FOOTPRINT_CELL)] === 1) {
            p.footprint++;
            if (finite && wv > 0) p.covered++;
          }
          if (wv >= thr) {
            p.innerPixels++;
            inv[i] = 1 / Math.sqrt(wv);
            if (finite) {
              masked[i] = v;
              line[k++] = v;
              if (v > p.peak) p.peak = v;
            } else {
              masked[i] = NaN;
              p.innerNan++;
            }
          } else {
            masked[i] = NaN;
            inv[i] = NaN;
          }
        }
        if (k >= MIN_LINE_PIXELS) p.rowMedians.push(medianInPlace(line.subarray(0, k), 'float64'));
        if (y % colEvery === 0) p.colStore.set(masked.subarray(r * nx, (r + 1) * nx), (y / colEvery) * nx);
        for (const win of windows) copyRow(win, y, px, r * nx, nx, innerAt(w, r * nx, nx, win, thr));
      }
      p.noise.add(masked, rows * nx);
      p.expected.add(inv, rows * nx);
    },
    { stripBytes: o.stripBytes },
  );
  return p;
}

/** Whether the weight at the window's expected column of this row is inner. */
function innerAt(w: ArrayLike<number>, off: number, nx: number, win: SourceWindow, thr: number): boolean {
  const xi = Math.round(win.x);
  return xi >= 0 && xi < nx && w[off + xi] >= thr;
}

/** Copy row y into a window that covers it (all finite mosaic values: a source may sit near the edge). */
function copyRow(
  win: SourceWindow,
  y: number,
  px: ArrayLike<number>,
  off: number,
  nx: number,
  innerAtX: boolean,
): void {
  const j = y - win.y0;
  if (j < 0 || j >= win.side) return;
  if (y === Math.round(win.y)) win.inner = innerAtX;
  for (let i = 0; i < win.side; i++) {
    const x = win.x0 + i;
    if (x >= 0 && x < nx) win.values[j * win.side + i] = px[off + x];
  }
}

function columnMedians(store: Float32Array, rows: number, nx: number): number[] {
  const out: number[] = [];
  const col = new Float64Array(rows);
  for (let x = 0; x < nx; x++) {
    let k = 0;
    for (let r = 0; r < rows; r++) {
      const v = store[r * nx + x];
      if (v - v === 0) col[k++] = v;
    }
    if (k >= MIN_LINE_PIXELS) out.push(medianInPlace(col.subarray(0, k), 'float64'));
  }
  return out;
}

/** Measure a mosaic against its weight map (same grid). Throws the FITS reader's coded errors. */
export function measureMosaic(mosaicPath: string, weightsPath: string, o: MeasureOptions): Measurement {
  const open = (p: string) => openImage(p, { maxBlocks: o.maxBlocks, maxPixels: o.maxPixels });
  const img = open(mosaicPath);
  let wImg: OpenImage | undefined;
  try {
    wImg = open(weightsPath);
    if (wImg.nx !== img.nx || wImg.ny !== img.ny)
      throw new PermanentError(
        `${weightsPath} is ${wImg.nx}×${wImg.ny}, the mosaic ${img.nx}×${img.ny}: not its weight map`,
        { code: 'WEIGHTS_MISMATCH' },
      );
    return measureOpen(img, wImg, o);
  } finally {
    wImg?.close();
    img.close();
  }
}

function measureOpen(img: OpenImage, wImg: OpenImage, o: MeasureOptions): Measurement {
  const notMeasured: Record<string, string> = {};
  const meta = extractMetadata(img.hdu.header);
  const grid = skyGridOf(img.hdu.header, img.nx, img.ny);
  const sky = 'unsupported' in grid ? null : grid;
  if (!sky) notMeasured.sky = `no usable celestial WCS: ${(grid as { unsupported: string }).unsupported}`;
  const beamDeg = meta.bmajDeg ?? o.beamDegFallback ?? null;
  const maxW = maxWeight(wImg, o.stripBytes);
  const thr = maxW > 0 ? o.innerWeightFraction * maxW : Infinity;
  const mask = sky ? footprintMask(sky, o.footprint) : null;
  if (!mask)
    notMeasured.coverage_fraction = sky ? 'no planned inputs to define the footprint' : 'no usable WCS';
  const windows = referenceWindows(sky, beamDeg, o.references, notMeasured);
  const p = innerPass(img, wImg, thr, mask, windows, o);
  checkUnchanged(img);
  checkUnchanged(wImg);
  const noiseStats = p.noise.result();
  const innerFinite = noiseStats.nFinite;
  const noise = noiseStats.madStd !== null && noiseStats.madStd > 0 ? noiseStats.madStd : null;
  const expected = p.expected.result().median;
  const rowVar = variance(Float64Array.from(p.rowMedians));
  const colVar = variance(Float64Array.from(columnMedians(p.colStore, p.colRows, img.nx)));
  const bandVar = rowVar === null && colVar === null ? null : Math.max(rowVar ?? 0, colVar ?? 0);
  if (bandVar === null)
    notMeasured.banding = `fewer than 3 rows or columns with ${MIN_LINE_PIXELS} inner pixels`;
  const refs = measureReferences(windows, sky, beamDeg, meta.freqHz, noise, o.minReferenceSnr ?? 10);
  const used = refs.filter((r) => r.used);
  if (o.references.length > 0 && sky && beamDeg && used.length === 0)
    notMeasured.reference_sources = 'no reference source bright enough inside the inner region';
  else if (o.references.length === 0) notMeasured.reference_sources = 'no reference sources configured';
  const builderNoise = num(img, 'EFFNOISE');
  if (builderNoise === null) notMeasured.builder_agreement = 'no EFFNOISE keyword in the mosaic header';
  return {
    nx: img.nx,
    ny: img.ny,
    maxWeight: maxW,
    freqHz: meta.freqHz ?? meta.restfreqHz,
    beamDeg,
    innerPixels: p.innerPixels,
    innerFinite,
    noiseJy: noise,
    noiseExpectedJy: expected,
    noiseRatio: noise !== null && expected !== null && expected > 0 ? noise / expected : null,
    peakJy: innerFinite > 0 ? p.peak : null,
    dynamicRange: noise !== null && innerFinite > 0 ? p.peak / noise : null,
    coverageFraction: mask && p.footprint > 0 ? p.covered / p.footprint : null,
    nanFraction: p.innerPixels > 0 ? p.innerNan / p.innerPixels : null,
    banding: bandVar !== null && noise !== null ? bandVar / (noise * noise) : null,
    nRef: used.length,
    offsetBeamsMedian: median(used.map((r) => r.offsetBeams!)),
    offsetArcsecMedian: median(used.map((r) => r.offsetArcsec!)),
    fluxRatioMedian: median(used.map((r) => r.fluxRatio!)),
    builderNoiseJy: builderNoise,
    notMeasured,
    references: refs,
  };
}

function referenceWindows(
  sky: SkyGrid | null,
  beamDeg: number | null,
  refs: ReferenceSource[],
  notMeasured: Record<string, string>,
): SourceWindow[] {
  if (refs.length === 0 || !sky) return [];
  if (!beamDeg) {
    notMeasured.reference_sources = 'no beam (BMAJ) in the mosaic header or its inputs';
    return [];
  }
  const radius = (3 * beamDeg) / sky.pixelDeg;
  const out: SourceWindow[] = [];
  for (const s of refs) {
    const p = sky.toPixel(s.raDeg, s.decDeg);
    if (!p || p.x < 0 || p.y < 0 || p.x > sky.nx - 1 || p.y > sky.ny - 1) continue;
    out.push(makeWindow(s, p.x, p.y, radius));
  }
  return out;
}

function measureReferences(
  windows: SourceWindow[],
  sky: SkyGrid | null,
  beamDeg: number | null,
  freqHz: number | null,
  noise: number | null,
  minSnr: number,
): ReferenceMeasure[] {
  if (!sky || !beamDeg) return [];
  const radius = (3 * beamDeg) / sky.pixelDeg;
  return windows.map((w) => {
    const expectedJy = expectedFluxJy(w.source, freqHz);
    const base = {
      name: w.source.name,
      expectedJy,
      peakJy: null,
      fluxRatio: null,
      offsetBeams: null,
      offsetArcsec: null,
      offsetPx: null,
    };
    if (!w.inner) return { ...base, used: false, why: 'outside the inner region' };
    if (noise !== null && expectedJy < minSnr * noise)
      return { ...base, used: false, why: `expected ${expectedJy} Jy is below ${minSnr}× the noise` };
    const fit = fitPeak(w, radius);
    if (!fit) return { ...base, used: false, why: 'no peak within 3 beams' };
    const offsetPx = Math.hypot(fit.x - w.x, fit.y - w.y);
    return {
      ...base,
      peakJy: fit.peak,
      fluxRatio: fit.peak / expectedJy,
      offsetPx,
      offsetBeams: (offsetPx * sky.pixelDeg) / beamDeg,
      offsetArcsec: offsetPx * sky.pixelDeg * 3600,
      used: true,
    };
  });
}
