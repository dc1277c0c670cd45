// HDU layout: what the header says about the data unit (BITPIX, axes, scaling, where the bytes are) and the
// walk from one HDU to the next by skipping padded data sizes. The first image HDU is the first primary or
// IMAGE extension with at least two non-empty axes; tile-compressed images and random groups are refused.
import fs from 'node:fs';
import { fitsError } from './errors.js';
import { BLOCK, DEFAULT_MAX_BLOCKS, readHeaderAt, type CardValue, type FitsHeader } from './header.js';

export const VALID_BITPIX = [8, 16, 32, 64, -32, -64] as const;
export type Bitpix = (typeof VALID_BITPIX)[number];

export interface HduInfo {
  index: number;
  header: FitsHeader;
  bitpix: Bitpix;
  /** NAXIS1..NAXISn (FITS order: axes[0] is the fastest-varying x axis). */
  axes: number[];
  bscale: number;
  bzero: number;
  /** BLANK for integer BITPIX (kept as bigint for BITPIX 64 so the comparison is exact). */
  blank?: number | bigint;
  /** Absolute byte offset of the data unit. */
  dataStart: number;
  dataBytes: number;
  paddedBytes: number;
  isPrimary: boolean;
  xtension?: string;
  isImage: boolean;
  isRandomGroups: boolean;
  isCompressed: boolean;
}

function num(h: FitsHeader, key: string): number | undefined {
  const v = h.values.get(key);
  return typeof v === 'number' ? v : undefined;
}

function intValue(v: CardValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

/** Describe an HDU from its header; throws BAD_BITPIX / BAD_NAXIS for headers that cannot be laid out. */
export function describeHdu(header: FitsHeader, index: number): HduInfo {
  const bitpix = intValue(header.values.get('BITPIX'));
  if (bitpix === undefined || !(VALID_BITPIX as readonly number[]).includes(bitpix)) {
    throw fitsError('BAD_BITPIX', `HDU ${index}: BITPIX ${String(header.values.get('BITPIX'))} is not valid`);
  }
  const naxis = intValue(header.values.get('NAXIS'));
  if (naxis === undefined || naxis < 0 || naxis > 999) {
    throw fitsError('BAD_NAXIS', `HDU ${index}: NAXIS ${String(header.values.get('NAXIS'))} is not valid`);
  }
  const axes: number[] = [];
  for (let i = 1; i <= naxis; i++) {
    const n = intValue(header.values.get(`NAXIS${i}`));
    if (n === undefined || n < 0) throw fitsError('BAD_NAXIS', `HDU ${index}: NAXIS${i} missing or negative`);
    axes.push(n);
  }
  const isPrimary = index === 0;
  const xtension = isPrimary ? undefined : String(header.values.get('XTENSION') ?? '').trim();
  const isRandomGroups = isPrimary && header.values.get('GROUPS') === true && axes[0] === 0;
  const isCompressed = header.values.get('ZIMAGE') === true;
  const pcount = num(header, 'PCOUNT') ?? 0;
  const gcount = num(header, 'GCOUNT') ?? 1;
  const bytes = Math.abs(bitpix) / 8;
  let dataBytes: number;
  if (naxis === 0) dataBytes = 0;
  else if (isRandomGroups) dataBytes = bytes * gcount * (pcount + axes.slice(1).reduce((a, b) => a * b, 1));
  else if (isPrimary) dataBytes = bytes * axes.reduce((a, b) => a * b, 1);
  else dataBytes = bytes * gcount * (pcount + axes.reduce((a, b) => a * b, 1));
  const isImage = !isRandomGroups && (isPrimary || xtension === 'IMAGE');
  const blankV = header.values.get('BLANK');
  let blank: number | bigint | undefined;
  if (bitpix > 0 && typeof blankV === 'number' && Number.isInteger(blankV)) {
    // Re-read BLANK from the raw card for BITPIX 64: a Number cannot hold every int64.
    const raw = header.cards
      .find((c) => c.keyword === 'BLANK')
      ?.raw.slice(10)
      .split('/')[0]
      .trim();
    blank = bitpix === 64 && raw && /^[+-]?\d+$/.test(raw) ? BigInt(raw) : blankV;
  }
  return {
    index,
    header,
    bitpix: bitpix as Bitpix,
    axes,
    bscale: num(header, 'BSCALE') ?? 1,
    bzero: num(header, 'BZERO') ?? 0,
    blank,
    dataStart: header.offset + header.headerBytes,
    dataBytes,
    paddedBytes: Math.ceil(dataBytes / BLOCK) * BLOCK,
    isPrimary,
    xtension,
    isImage,
    isRandomGroups,
    isCompressed,
  };
}

/** Check the first bytes look like a FITS primary header (SIMPLE = T) before scanning for END. */
function checkSignature(fd: number, size: number): void {
  if (size < BLOCK) throw fitsError('TOO_SMALL', `file has ${size} bytes, less than one 2880-byte block`);
  const head = Buffer.alloc(CARD_PREFIX);
  fs.readSync(fd, head, 0, CARD_PREFIX, 0);
  const card = head.toString('latin1');
  if (!card.startsWith('SIMPLE  ='))
    throw fitsError('NOT_FITS', 'the file does not start with a SIMPLE card');
  if (card.slice(10, 30).trim() !== 'T')
    throw fitsError('NOT_FITS', 'SIMPLE is not T: not a standard FITS file');
}
const CARD_PREFIX = 80;

export interface FindImageOptions {
  maxBlocks?: number;
  /** File size when already known. */
  fileSize?: number;
}

/** Walk the HDUs of an open file and call visit for each until it returns true; returns that HDU. */
export function walkHdus(
  fd: number,
  visit: (hdu: HduInfo) => boolean,
  opts: FindImageOptions = {},
): HduInfo | undefined {
  const size = opts.fileSize ?? fs.fstatSync(fd).size;
  checkSignature(fd, size);
  const maxBlocks = opts.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  let offset = 0;
  for (let index = 0; offset < size; index++) {
    let header: FitsHeader;
    try {
      header = readHeaderAt(fd, offset, { maxBlocks, fileSize: size });
    } catch (e) {
      // Trailing junk after the last complete HDU is common and harmless; only the primary must parse.
      if (index > 0) return undefined;
      throw e;
    }
    const hdu = describeHdu(header, index);
    if (visit(hdu)) return hdu;
    offset = hdu.dataStart + hdu.paddedBytes;
  }
  return undefined;
}

/**
 * The first image HDU with at least two non-empty axes. A compressed image or random-groups primary met
 * before any usable image is refused with its own code; no image at all is NOT_IMAGE.
 */
export function findFirstImage(fd: number, opts: FindImageOptions = {}): HduInfo {
  const found = walkHdus(
    fd,
    (hdu) => {
      if (hdu.isRandomGroups) throw fitsError('RANDOM_GROUPS', 'random-groups data (uv data), not an image');
      if (hdu.isCompressed) {
        throw fitsError(
          'UNSUPPORTED_COMPRESSED',
          `HDU ${hdu.index} is a tile-compressed image (fpack); not supported`,
        );
      }
      return hdu.isImage && hdu.axes.length >= 2 && hdu.axes[0] > 0 && hdu.axes[1] > 0;
    },
    opts,
  );
  if (!found) throw fitsError('NOT_IMAGE', 'no HDU holds a 2-D image');
  return found;
}

/** Read only the headers of every HDU (for `contimg fits header` and metadata). */
export function listHdus(fd: number, opts: FindImageOptions = {}): HduInfo[] {
  const all: HduInfo[] = [];
  walkHdus(fd, (h) => (all.push(h), false), opts);
  return all;
}
