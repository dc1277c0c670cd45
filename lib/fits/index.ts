// lib/fits: our own FITS reader and thumbnail renderer (no FITS dependency; PNG through node:zlib).
export * from './errors.js';
export {
  parseCard,
  parseHeaderText,
  readHeaderAt,
  BLOCK,
  DEFAULT_MAX_BLOCKS,
  type Card,
  type CardValue,
  type FitsHeader,
} from './header.js';
export { describeHdu, findFirstImage, listHdus, walkHdus, type HduInfo, type Bitpix } from './hdu.js';
export { createDecoder, alignedBuffer, type Pixels, type PixelDecoder } from './decode.js';
export {
  openImage,
  streamPlane,
  readPlane,
  RowReader,
  DEFAULT_STRIP_BYTES,
  type OpenImage,
  type StripSink,
} from './plane.js';
export { planeIndexFor, type PlaneSelect } from './select.js';
export { Downsampler, outputSize, type DownsampleMode } from './downsample.js';
export { zscale, zscaleFromSamples, ZscaleSampler, type ZscaleOptions, type ZscaleResult } from './zscale.js';
export { percentile, minmax, computeLimits, type IntervalName, type IntervalOptions } from './interval.js';
export { stretchFn, makeIndexer, NAN_INDEX, type StretchName } from './stretch.js';
export { colorize, type Colorized } from './colorize.js';
export { colormap, COLORMAPS, type ColormapName } from './colormap.js';
export { encodeIndexedPng } from './png.js';
export { StatsAccumulator, gradeDynamicRange, type PlaneStats, type QaGrade } from './stats.js';
export { extractMetadata, aipsHistoryBeam, isoDate, type FitsMetadata } from './metadata.js';
export * from './fingerprint.js';
export {
  renderThumbnail,
  checkUnchanged,
  DEFAULT_RENDER,
  type RenderOptions,
  type RenderResult,
} from './render.js';
export { planeStats, type PlaneStatsReport } from './plane-stats.js';
export { headerMetadata } from './file-metadata.js';
export { DEFAULT_LOOK, DEFAULT_MAX_PIXELS } from './look.js';
export { writeFileAtomic } from './atomic.js';
export { writeFitsImage, formatCard, headerBlock, type HeaderCard, type WriteImageOptions } from './write.js';
