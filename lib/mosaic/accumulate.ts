// The linear-mosaic accumulators (Cornwell, Holdaway et al. 1993; MIRIAD/ASKAP linmos): over the canvas,
// num = Σ_p A_p I_p / σ_p² (A_p² I′_p / σ_p² for a primary-beam-corrected tile) and W = Σ_p A_p² / σ_p², in
// two Float64Arrays; the mosaic is num / W and the noise map 1/√W (Jy). A footprint bitset marks the pixels
// some tile covers geometrically (inside the image, A ≥ cutoff), so NaN holes inside the footprint can be
// counted. Pure arithmetic: no I/O.

export class MosaicCanvas {
  readonly num: Float64Array;
  readonly weight: Float64Array;
  /** 1 bit per pixel: inside some tile's footprint. */
  readonly footprint: Uint8Array;

  constructor(
    readonly nx: number,
    readonly ny: number,
  ) {
    this.num = new Float64Array(nx * ny);
    this.weight = new Float64Array(nx * ny);
    this.footprint = new Uint8Array(Math.ceil((nx * ny) / 8));
  }

  markFootprint(i: number): void {
    this.footprint[i >> 3] |= 1 << (i & 7);
  }

  inFootprint(i: number): boolean {
    return (this.footprint[i >> 3] & (1 << (i & 7))) !== 0;
  }

  /**
   * One tile's contribution at pixel i: value v (finite) with beam response a and noise σ. `pbcor` tiles are
   * already divided by the beam, so they are weighted by a² as well.
   */
  add(i: number, v: number, a: number, invVar: number, pbcor: boolean): void {
    const w = a * invVar;
    this.num[i] += (pbcor ? a * w : w) * v;
    this.weight[i] += a * w;
  }

  /** The mosaic value at pixel i: num/W, NaN where no tile contributes. */
  value(i: number): number {
    const w = this.weight[i];
    return w > 0 ? this.num[i] / w : NaN;
  }
}

export interface CanvasStats {
  /** Median 1/√W over pixels with W ≥ 0.5 max W (null if nothing covered). */
  effectiveNoiseJy: number | null;
  maxWeight: number;
  coveredPixels: number;
  footprintPixels: number;
  nanFractionInFootprint: number;
}

/**
 * Statistics of the finished canvas. The median of 1/√W over the inner pixels is 1/√(median W) (the map is
 * monotonic), and the median of W is found exactly with bounded memory: a histogram over [½ max, max] finds
 * the bin holding the middle rank, and only the values of that bin are selected.
 */
export function canvasStats(c: MosaicCanvas, innerFraction = 0.5): CanvasStats {
  const w = c.weight;
  const n = w.length;
  let maxW = 0;
  let covered = 0;
  let fp = 0;
  let holes = 0;
  for (let i = 0; i < n; i++) {
    const v = w[i];
    if (v > 0) {
      covered++;
      if (v > maxW) maxW = v;
    }
    if (c.inFootprint(i)) {
      fp++;
      if (!(v > 0)) holes++;
    }
  }
  const nanFractionInFootprint = fp === 0 ? 0 : holes / fp;
  if (maxW === 0) {
    return {
      effectiveNoiseJy: null,
      maxWeight: 0,
      coveredPixels: 0,
      footprintPixels: fp,
      nanFractionInFootprint,
    };
  }
  const lo = innerFraction * maxW;
  const median = medianAbove(w, lo, maxW);
  return {
    effectiveNoiseJy: 1 / Math.sqrt(median),
    maxWeight: maxW,
    coveredPixels: covered,
    footprintPixels: fp,
    nanFractionInFootprint,
  };
}

/** The median (numpy's: the mean of the two middle values for an even count) of the values in [lo, hi]. */
export function medianAbove(a: Float64Array, lo: number, hi: number): number {
  const BINS = 1 << 16;
  const counts = new Float64Array(BINS);
  const scale = hi > lo ? BINS / (hi - lo) : 0;
  let total = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v >= lo && v <= hi) {
      counts[Math.min(BINS - 1, Math.floor((v - lo) * scale))]++;
      total++;
    }
  }
  const h = total >> 1;
  const ranks = total % 2 === 1 ? [h] : [h - 1, h];
  const picked = ranks.map((r) => valueAtRank(a, counts, r, lo, hi, scale));
  return picked.reduce((s, v) => s + v, 0) / picked.length;
}

function valueAtRank(
  a: Float64Array,
  counts: Float64Array,
  rank: number,
  lo: number,
  hi: number,
  scale: number,
): number {
  let below = 0;
  let bin = 0;
  while (below + counts[bin] <= rank) below += counts[bin++];
  const inBin: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v >= lo && v <= hi && Math.min(counts.length - 1, Math.floor((v - lo) * scale)) === bin)
      inBin.push(v);
  }
  inBin.sort((x, y) => x - y);
  return inBin[rank - below];
}
