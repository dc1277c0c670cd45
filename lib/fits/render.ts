// FITS file → indexed PNG thumbnail in one streaming pass: open, locate the image and plane, stream row strips
// through the downsampler (and optionally the statistics), compute limits on the un-flipped grid (or on the
// full plane in a second pass), map through stretch and colour map, encode north up. The file's fingerprint
// is checked after the read: a file replaced or rewritten meanwhile is SOURCE_CHANGED and nothing is kept.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { ColormapName } from './colormap.js';
import { colorize } from './colorize.js';
import { Downsampler, type DownsampleMode } from './downsample.js';
import { fitsError, ioError } from './errors.js';
import { fingerprintOf, fstatFingerprint, sameFingerprint, type Fingerprint } from './fingerprint.js';
import { computeLimits, type IntervalName } from './interval.js';
import { DEFAULT_LOOK, DEFAULT_MAX_PIXELS } from './look.js';
import { extractMetadata, type FitsMetadata } from './metadata.js';
import { openImage, streamPlane, streamPlaneBytes, type OpenImage, type StreamOptions } from './plane.js';
import { encodeIndexedPng } from './png.js';
import { planeIndexFor, type PlaneSelect } from './select.js';
import { StatsAccumulator, type PlaneStats } from './stats.js';
import type { StretchName } from './stretch.js';
import { ZscaleSampler, zscaleFromSamples } from './zscale.js';

export interface RenderOptions {
  maxDim: number;
  /** Neither side of the PNG below min(minDim, that side's size) (default 1; see outputSize). */
  minDim?: number;
  interval: IntervalName;
  contrast: number;
  lowPercent?: number;
  highPercent?: number;
  stretch: StretchName;
  /** AsinhStretch / LogStretch parameter a. */
  stretchA?: number;
  colormap: ColormapName;
  nanColor?: [number, number, number];
  /** NaN pixels transparent (default) or drawn opaque in nanColor. */
  nanTransparent?: boolean;
  downsample?: DownsampleMode;
  /** 'thumbnail' (default): limits on the downsampled grid; 'full': zscale on the full plane (second pass). */
  limitsOn?: 'thumbnail' | 'full';
  select?: PlaneSelect;
  maxPixels?: number;
  maxBlocks?: number;
  stripBytes?: number;
  pngLevel?: number;
  /** Also compute plane statistics (min/max/sum/std/median/MAD/DR) during the read. */
  stats?: boolean;
  afterStrip?: StreamOptions['afterStrip'];
}

/** The default look (lib/fits/look.ts, shared with the daemon's default preset) as renderer options. */
export const DEFAULT_RENDER: RenderOptions = {
  maxDim: DEFAULT_LOOK.maxDim,
  interval: DEFAULT_LOOK.interval,
  contrast: DEFAULT_LOOK.contrast,
  lowPercent: DEFAULT_LOOK.lowPercent,
  highPercent: DEFAULT_LOOK.highPercent,
  stretch: DEFAULT_LOOK.stretch,
  colormap: DEFAULT_LOOK.colormap,
  nanTransparent: DEFAULT_LOOK.nan === 'transparent',
  downsample: DEFAULT_LOOK.downsample,
  limitsOn: DEFAULT_LOOK.limitsOn,
  maxPixels: DEFAULT_MAX_PIXELS,
};

export interface RenderTimings {
  header: number;
  /** The one pass over the pixels: read, decode, downsample and (with stats) the moments and samples. */
  readDownsample: number;
  /** The median and MAD of the samples (0 without stats). */
  statistics: number;
  limits: number;
  encode: number;
  total: number;
}

export interface RenderResult {
  png: Buffer;
  width: number;
  height: number;
  vmin: number;
  vmax: number;
  nFinite: number;
  plane: number;
  hdu: number;
  nx: number;
  ny: number;
  bitpix: number;
  /** numpy order (slowest axis first), as astropy reports data.shape. */
  shape: number[];
  fingerprint: Fingerprint;
  bytesRead: number;
  timings: RenderTimings;
  metadata: FitsMetadata;
  stats?: PlaneStats;
}

/** After reading: the descriptor must be unchanged and the path must still name the same file (or be gone). */
export function checkUnchanged(img: OpenImage): void {
  const now = fstatFingerprint(img.fd, img.path);
  if (!sameFingerprint(now, img.fingerprint)) {
    throw fitsError('SOURCE_CHANGED', `${img.path} changed while it was read`, { path: img.path });
  }
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(img.path, { bigint: true });
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return; // unlinked after open: what we read is consistent
    throw ioError(e, img.path);
  }
  if (!sameFingerprint(fingerprintOf(st), img.fingerprint)) {
    throw fitsError('SOURCE_CHANGED', `${img.path} was replaced while it was read`, { path: img.path });
  }
}

function fullPlaneZscale(
  img: OpenImage,
  plane: number,
  nFinite: number,
  opts: RenderOptions,
  dtype: 'float32' | 'float64',
): [number, number] | null {
  const sampler = new ZscaleSampler(nFinite);
  streamPlane(img, plane, (px, _y0, rows) => sampler.add(px, rows * img.nx), { stripBytes: opts.stripBytes });
  const r = zscaleFromSamples(sampler.result(), { contrast: opts.contrast }, dtype);
  return r ? [r.vmin, r.vmax] : null;
}

/**
 * Stream the plane once through the downsampler (and the statistics, when asked: their moments in the
 * downsampler's own loop); check the file after.
 */
function readDownsampled(img: OpenImage, plane: number, opts: RenderOptions) {
  const mode = opts.downsample ?? 'mean';
  const ds = new Downsampler(img.nx, img.ny, opts.maxDim, mode, opts.minDim);
  const acc = opts.stats ? new StatsAccumulator(img.nx * img.ny) : undefined;
  const { bitpix, bscale, bzero } = img.hdu;
  let dtype: 'float32' | 'float64' = 'float32';
  const streamOpts = { stripBytes: opts.stripBytes, afterStrip: opts.afterStrip };
  if (mode === 'mean' && bitpix === -32 && bscale === 1 && bzero === 0) {
    // The common case (an unscaled float32 image): decode while summing, no byte-swap pass over the strips;
    // with statistics, the moments ride in the same loop and the median's samples are read from the bytes.
    streamPlaneBytes(
      img,
      plane,
      (buf, y0, rows) => readBigEndian(ds, acc, buf, y0, rows, img.nx),
      streamOpts,
    );
  } else {
    streamPlane(
      img,
      plane,
      (px, y0, rows) => {
        dtype = px instanceof Float32Array ? 'float32' : 'float64';
        if (acc) {
          // The moments ride in the downsampler's loop; the median's samples are a strided pick on the side.
          ds.addWithMoments(px, y0, rows, acc.moments);
          acc.sample(px, rows * img.nx);
        } else ds.add(px, y0, rows);
      },
      streamOpts,
    );
  }
  checkUnchanged(img);
  return { ds, acc, dtype };
}

/** One strip of raw big-endian float32 rows (see readDownsampled) into the grid and the statistics. */
function readBigEndian(
  ds: Downsampler,
  acc: StatsAccumulator | undefined,
  buf: Buffer,
  y0: number,
  rows: number,
  nx: number,
): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (!acc) return ds.addBigEndianFloat32(dv, y0, rows);
  ds.addBigEndianFloat32WithMoments(dv, y0, rows, acc.moments);
  acc.sampleBigEndianFloat32(dv, rows * nx);
}

function encode(ds: Downsampler, vmin: number, vmax: number, opts: RenderOptions): Buffer {
  const c = colorize(ds.data, {
    vmin,
    vmax,
    stretch: opts.stretch,
    stretchParams: { a: opts.stretchA },
    colormap: opts.colormap,
    nanColor: opts.nanColor,
    nanTransparent: opts.nanTransparent,
  });
  return encodeIndexedPng(c.indices, ds.width, ds.height, c.palette, {
    level: opts.pngLevel,
    transparentIndex: c.transparentIndex,
  });
}

export function renderThumbnail(path: string, options: Partial<RenderOptions> = {}): RenderResult {
  const opts: RenderOptions = { ...DEFAULT_RENDER, ...options };
  const t0 = performance.now();
  const img = openImage(path, { maxBlocks: opts.maxBlocks, maxPixels: opts.maxPixels });
  try {
    const plane = planeIndexFor(img.hdu, opts.select);
    const t1 = performance.now();
    const { ds, acc, dtype } = readDownsampled(img, plane, opts);
    const t2 = performance.now();
    const stats = acc?.result();
    const t2s = performance.now();
    if (ds.nFinite === 0)
      throw fitsError('ALL_NONFINITE', `${path}: plane ${plane} has no finite pixel`, { plane });
    // Full-plane zscale needs the exact finite count: the statistics have it, and so does a mean/max grid.
    const limits =
      opts.limitsOn === 'full' && opts.interval === 'zscale'
        ? fullPlaneZscale(img, plane, stats?.nFinite ?? ds.nFinite, opts, dtype)
        : computeLimits(ds.data, opts, 'float32');
    if (!limits)
      throw fitsError('ALL_NONFINITE', `${path}: no finite pixel in the thumbnail grid`, { plane });
    const [vmin, vmax] = limits;
    const t3 = performance.now();
    const png = encode(ds, vmin, vmax, opts);
    const t4 = performance.now();
    return {
      png,
      width: ds.width,
      height: ds.height,
      vmin,
      vmax,
      nFinite: ds.nFinite,
      plane,
      hdu: img.hdu.index,
      nx: img.nx,
      ny: img.ny,
      bitpix: img.hdu.bitpix,
      shape: [...img.hdu.axes].reverse(),
      fingerprint: img.fingerprint,
      bytesRead: img.bytesRead,
      timings: {
        header: t1 - t0,
        readDownsample: t2 - t1,
        statistics: t2s - t2,
        limits: t3 - t2s,
        encode: t4 - t3,
        total: t4 - t0,
      },
      metadata: extractMetadata(img.hdu.header),
      stats,
    };
  } finally {
    img.close();
  }
}
