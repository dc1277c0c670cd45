// Big-endian FITS pixels → physical values, strip by strip into reused arrays. Output precision follows
// astropy so statistics and zscale agree with it: BITPIX 8/16/−32 give float32 (scaled in float32 like numpy's
// in-place multiply and add), BITPIX 32/64/−64 give float64. BLANK → NaN for integer BITPIX. BITPIX 64 goes
// through BigInt64Array; with an integral BZERO the offset is added as a bigint first, so the only rounding
// is the one to float64.
import type { HduInfo } from './hdu.js';

export type Pixels = Float32Array | Float64Array;

export interface PixelDecoder {
  /** Bytes per pixel. */
  readonly bpp: number;
  /** 'float32' or 'float64': the dtype astropy would give. */
  readonly dtype: 'float32' | 'float64';
  /**
   * Decode n pixels from buf (a Buffer over its own ArrayBuffer at byteOffset 0). buf is byte-swapped in place.
   * The returned array is reused by the next call.
   */
  decode(buf: Buffer, n: number): Pixels;
}

/** A Buffer on its own 8-byte-aligned ArrayBuffer, so typed views need no copy. */
export function alignedBuffer(bytes: number): Buffer {
  return Buffer.from(new ArrayBuffer(Math.max(8, Math.ceil(bytes / 8) * 8)), 0, bytes);
}

export function createDecoder(
  hdu: Pick<HduInfo, 'bitpix' | 'bscale' | 'bzero' | 'blank'>,
  maxPixels: number,
): PixelDecoder {
  const { bitpix, bscale, bzero, blank } = hdu;
  const scaled = bscale !== 1 || bzero !== 0;
  switch (bitpix) {
    case -32:
      return floatDecoder(4, scaled, bscale, bzero, maxPixels);
    case -64:
      return floatDecoder(8, scaled, bscale, bzero, maxPixels);
    case 8:
    case 16:
      return smallIntDecoder(bitpix, scaled, bscale, bzero, blank, maxPixels);
    case 32:
      return int32Decoder(bscale, bzero, blank, maxPixels);
    case 64:
      return int64Decoder(bscale, bzero, blank, maxPixels);
  }
}

function floatDecoder(
  bpp: 4 | 8,
  scaled: boolean,
  bscale: number,
  bzero: number,
  maxPixels: number,
): PixelDecoder {
  const out = bpp === 4 ? new Float32Array(scaled ? maxPixels : 0) : new Float64Array(scaled ? maxPixels : 0);
  return {
    bpp,
    dtype: bpp === 4 ? 'float32' : 'float64',
    decode(buf, n) {
      if (bpp === 4) buf.swap32();
      else buf.swap64();
      const view =
        bpp === 4
          ? new Float32Array(buf.buffer, buf.byteOffset, n)
          : new Float64Array(buf.buffer, buf.byteOffset, n);
      if (!scaled) return view;
      const o = out.subarray(0, n);
      for (let i = 0; i < n; i++) o[i] = view[i] * bscale + bzero;
      return o;
    },
  };
}

function smallIntDecoder(
  bitpix: 8 | 16,
  scaled: boolean,
  bscale: number,
  bzero: number,
  blank: number | bigint | undefined,
  maxPixels: number,
): PixelDecoder {
  const out = new Float32Array(maxPixels);
  const fs = Math.fround(bscale);
  const fz = Math.fround(bzero);
  const unsigned16 = bitpix === 16 && bscale === 1 && bzero === 32768;
  const b = blank === undefined ? undefined : Number(blank);
  return {
    bpp: bitpix / 8,
    dtype: 'float32',
    decode(buf, n) {
      const o = out.subarray(0, n);
      let raw: Uint8Array | Int16Array;
      if (bitpix === 16) {
        buf.swap16();
        raw = new Int16Array(buf.buffer, buf.byteOffset, n);
      } else raw = new Uint8Array(buf.buffer, buf.byteOffset, n);
      for (let i = 0; i < n; i++) {
        const r = raw[i];
        if (r === b) o[i] = NaN;
        else if (unsigned16) o[i] = r + 32768;
        else if (scaled) o[i] = Math.fround(r * fs) + fz;
        else o[i] = r;
      }
      return o;
    },
  };
}

function int32Decoder(
  bscale: number,
  bzero: number,
  blank: number | bigint | undefined,
  maxPixels: number,
): PixelDecoder {
  const out = new Float64Array(maxPixels);
  const b = blank === undefined ? undefined : Number(blank);
  return {
    bpp: 4,
    dtype: 'float64',
    decode(buf, n) {
      buf.swap32();
      const raw = new Int32Array(buf.buffer, buf.byteOffset, n);
      const o = out.subarray(0, n);
      for (let i = 0; i < n; i++) {
        const r = raw[i];
        o[i] = r === b ? NaN : r * bscale + bzero;
      }
      return o;
    },
  };
}

function int64Decoder(
  bscale: number,
  bzero: number,
  blank: number | bigint | undefined,
  maxPixels: number,
): PixelDecoder {
  const out = new Float64Array(maxPixels);
  const b = blank === undefined ? undefined : BigInt(blank);
  const exactOffset = bscale === 1 && Number.isInteger(bzero) ? BigInt(bzero) : undefined;
  return {
    bpp: 8,
    dtype: 'float64',
    decode(buf, n) {
      buf.swap64();
      const raw = new BigInt64Array(buf.buffer, buf.byteOffset, n);
      const o = out.subarray(0, n);
      for (let i = 0; i < n; i++) {
        const r = raw[i];
        if (r === b) o[i] = NaN;
        else if (exactOffset !== undefined) o[i] = Number(r + exactOffset);
        else o[i] = Number(r) * bscale + bzero;
      }
      return o;
    },
  };
}
