// Opening an image and reading one 2-D plane in row strips with positioned reads into one reused buffer, so
// memory is bounded by the strip size whatever the image size. Plane k of axes 3..N starts at
// dataStart + k·NAXIS1·NAXIS2·bpp. Rows arrive in FITS order: y = 0 is the bottom row.
import fs from 'node:fs';
import { fitsError, ioError, openForRead } from './errors.js';
import { alignedBuffer, createDecoder, type Pixels } from './decode.js';
import { fstatFingerprint, type Fingerprint } from './fingerprint.js';
import { findFirstImage, type HduInfo } from './hdu.js';
import { DEFAULT_MAX_BLOCKS } from './header.js';

export const DEFAULT_STRIP_BYTES = 2 * 1024 * 1024;

export interface OpenImage {
  path: string;
  fd: number;
  /** The fingerprint of the open descriptor when it was opened. */
  fingerprint: Fingerprint;
  hdu: HduInfo;
  nx: number;
  ny: number;
  nPlanes: number;
  /** Bytes read from the file so far (headers and pixels). */
  bytesRead: number;
  close(): void;
}

export interface OpenImageOptions {
  maxBlocks?: number;
  /** nx·ny above this is TOO_LARGE (checked from the header, before any pixel is read). */
  maxPixels?: number;
}

/** Open a FITS file and locate its first image HDU; the caller must close() it. */
export function openImage(path: string, opts: OpenImageOptions = {}): OpenImage {
  const fd = openForRead(path);
  try {
    const fingerprint = fstatFingerprint(fd, path);
    const hdu = findFirstImage(fd, {
      maxBlocks: opts.maxBlocks ?? DEFAULT_MAX_BLOCKS,
      fileSize: fingerprint.size,
    });
    const [nx, ny] = hdu.axes;
    const nPlanes = hdu.axes.slice(2).reduce((a, b) => a * b, 1);
    if (opts.maxPixels !== undefined && nx * ny > opts.maxPixels) {
      throw fitsError('TOO_LARGE', `${nx}×${ny} plane exceeds maxPixels ${opts.maxPixels}`, { nx, ny });
    }
    if (fingerprint.size < hdu.dataStart + hdu.dataBytes) {
      throw fitsError(
        'TRUNCATED_DATA',
        `file has ${fingerprint.size} bytes; the data unit needs ${hdu.dataStart + hdu.dataBytes}`,
        {
          size: fingerprint.size,
          needed: hdu.dataStart + hdu.dataBytes,
        },
      );
    }
    let closed = false;
    return {
      path,
      fd,
      fingerprint,
      hdu,
      nx,
      ny,
      nPlanes,
      bytesRead: hdu.dataStart,
      close() {
        if (!closed) fs.closeSync(fd);
        closed = true;
      },
    };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

export type StripSink = (pixels: Pixels, y0: number, nRows: number) => void;

export interface StreamOptions {
  stripBytes?: number;
  /** Called after each strip is delivered (tests use it to disturb the file mid-read). */
  afterStrip?: (y1: number) => void;
}

/** Stream plane `planeIndex` to sink in strips of whole rows. Short reads are TRUNCATED_DATA. */
export function streamPlane(
  img: OpenImage,
  planeIndex: number,
  sink: StripSink,
  opts: StreamOptions = {},
): void {
  const decoder = createDecoder(img.hdu, stripRows(img, opts) * img.nx);
  streamPlaneBytes(
    img,
    planeIndex,
    (buf, y0, rows) => sink(decoder.decode(buf, rows * img.nx), y0, rows),
    opts,
  );
}

/** Whole rows per strip: as many as fit in stripBytes, at least one. */
export function stripRows(img: OpenImage, opts: StreamOptions): number {
  const rowBytes = (img.nx * Math.abs(img.hdu.bitpix)) / 8;
  return Math.max(1, Math.min(img.ny, Math.floor((opts.stripBytes ?? DEFAULT_STRIP_BYTES) / rowBytes)));
}

/** Raw big-endian strip bytes (buf is reused; its first rows·rowBytes bytes are valid). */
export type ByteStripSink = (buf: Buffer, y0: number, nRows: number) => void;

/** The read loop of streamPlane without decoding, for callers that decode as they go. */
export function streamPlaneBytes(
  img: OpenImage,
  planeIndex: number,
  sink: ByteStripSink,
  opts: StreamOptions = {},
): void {
  const { nx, ny, hdu } = img;
  if (!Number.isInteger(planeIndex) || planeIndex < 0 || planeIndex >= img.nPlanes) {
    throw fitsError('BAD_PLANE', `plane ${planeIndex} out of range 0..${img.nPlanes - 1}`);
  }
  const bpp = Math.abs(hdu.bitpix) / 8;
  const rowBytes = nx * bpp;
  const rowsPerStrip = stripRows(img, opts);
  const buf = alignedBuffer(rowsPerStrip * rowBytes);
  const planeStart = hdu.dataStart + planeIndex * nx * ny * bpp;
  for (let y0 = 0; y0 < ny; y0 += rowsPerStrip) {
    const rows = Math.min(rowsPerStrip, ny - y0);
    readFully(img, buf, rows * rowBytes, planeStart + y0 * rowBytes);
    sink(buf, y0, rows);
    opts.afterStrip?.(y0 + rows);
  }
}

function readFully(img: OpenImage, buf: Buffer, want: number, pos: number): void {
  let got = 0;
  while (got < want) {
    let n: number;
    try {
      n = fs.readSync(img.fd, buf, got, want - got, pos + got);
    } catch (e) {
      throw ioError(e, img.path);
    }
    if (n === 0) {
      throw fitsError('TRUNCATED_DATA', `${img.path}: file ended at byte ${pos + got} while reading pixels`, {
        at: pos + got,
      });
    }
    got += n;
    img.bytesRead += n;
  }
}

/** The whole plane in memory (physical values, BLANK → NaN). Only for small planes and full-plane limits. */
export function readPlane(img: OpenImage, planeIndex: number, opts: StreamOptions = {}): Pixels {
  const { nx, ny } = img;
  let out: Pixels | undefined;
  streamPlane(
    img,
    planeIndex,
    (px, y0, rows) => {
      out ??= px instanceof Float32Array ? new Float32Array(nx * ny) : new Float64Array(nx * ny);
      out.set(px.subarray(0, rows * nx), y0 * nx);
    },
    opts,
  );
  return out as Pixels;
}

/**
 * Rows of one plane on demand (pull, where streamPlane pushes): for reading a second image of the same
 * grid in step with a streamed one (a mosaic and its weight map). One reused buffer of maxRows rows.
 */
export class RowReader {
  private readonly buf: Buffer;
  private readonly decoder: ReturnType<typeof createDecoder>;
  private readonly planeStart: number;
  private readonly rowBytes: number;

  constructor(
    private readonly img: OpenImage,
    planeIndex: number,
    private readonly maxRows: number,
  ) {
    if (!Number.isInteger(planeIndex) || planeIndex < 0 || planeIndex >= img.nPlanes)
      throw fitsError('BAD_PLANE', `plane ${planeIndex} out of range 0..${img.nPlanes - 1}`);
    const bpp = Math.abs(img.hdu.bitpix) / 8;
    this.rowBytes = img.nx * bpp;
    this.planeStart = img.hdu.dataStart + planeIndex * img.nx * img.ny * bpp;
    this.buf = alignedBuffer(maxRows * this.rowBytes);
    this.decoder = createDecoder(img.hdu, maxRows * img.nx);
  }

  /** Rows y0..y0+nRows−1 (nRows ≤ maxRows) as physical values; the array is reused by the next call. */
  read(y0: number, nRows: number): Pixels {
    if (nRows > this.maxRows || y0 < 0 || y0 + nRows > this.img.ny)
      throw new RangeError(`rows ${y0}+${nRows} outside 0..${this.img.ny} or above ${this.maxRows}`);
    readFully(this.img, this.buf, nRows * this.rowBytes, this.planeStart + y0 * this.rowBytes);
    return this.decoder.decode(this.buf, nRows * this.img.nx);
  }
}
