// A small FITS writer for the simulator, tests and the benchmark: a primary image HDU, header cards
// formatted to the standard's fixed format, pixel rows written big-endian in bounded strips.
import fs from 'node:fs';
import type { Bitpix } from './hdu.js';
import { BLOCK, CARD } from './header.js';

export type HeaderValue = string | number | boolean;
export type HeaderCard = [keyword: string, value: HeaderValue | null, comment?: string];

function formatValue(v: HeaderValue): string {
  if (typeof v === 'boolean') return (v ? 'T' : 'F').padStart(20);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v).padStart(20);
    let s = v.toExponential(12).toUpperCase();
    if (s.length > 20) s = v.toExponential(10).toUpperCase();
    return s.padStart(20);
  }
  return `'${v.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
}

/** One 80-column card. Commentary keywords (HISTORY, COMMENT, blank) take their text as the value. */
export function formatCard(keyword: string, value: HeaderValue | null, comment?: string): string {
  const k = keyword.padEnd(8).slice(0, 8);
  if (keyword === 'HISTORY' || keyword === 'COMMENT' || keyword === '' || keyword === 'CONTINUE') {
    const text =
      keyword === 'CONTINUE' ? `  ${formatValue(String(value ?? '')).trimEnd()}` : String(value ?? '');
    return (k + text).padEnd(CARD).slice(0, CARD);
  }
  if (keyword === 'END') return 'END'.padEnd(CARD);
  const body = value === null ? '' : formatValue(value);
  const card = `${k}= ${body}${comment ? ` / ${comment}` : ''}`;
  return card.padEnd(CARD).slice(0, CARD);
}

/** Header text padded to whole blocks, ending in END. */
export function headerBlock(cards: HeaderCard[]): Buffer {
  const text = cards.map(([k, v, c]) => formatCard(k, v, c)).join('') + formatCard('END', null);
  const padded = text.padEnd(Math.ceil(text.length / BLOCK) * BLOCK, ' ');
  return Buffer.from(padded, 'latin1');
}

export interface WriteImageOptions {
  path: string;
  bitpix: Bitpix;
  /** NAXIS1..NAXISn. */
  axes: number[];
  /** Extra cards after the mandatory ones. */
  cards?: HeaderCard[];
  /**
   * Stored (raw) values of one row: row y (0 = bottom) of plane k. Called in file order. For BITPIX 64 the
   * values may be bigints.
   */
  row: (y: number, plane: number) => ArrayLike<number> | ArrayLike<bigint>;
  /** fsync the file before closing it (the caller renames it into place afterwards). */
  fsync?: boolean;
}

function encodeRow(
  bitpix: Bitpix,
  values: ArrayLike<number> | ArrayLike<bigint>,
  out: Buffer,
  offset: number,
): void {
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (bitpix) {
      case 8:
        out.writeUInt8(Number(v) & 0xff, offset + i);
        break;
      case 16:
        out.writeInt16BE(Number(v), offset + 2 * i);
        break;
      case 32:
        out.writeInt32BE(Number(v), offset + 4 * i);
        break;
      case 64:
        out.writeBigInt64BE(BigInt(v), offset + 8 * i);
        break;
      case -32:
        out.writeFloatBE(Number(v), offset + 4 * i);
        break;
      case -64:
        out.writeDoubleBE(Number(v), offset + 8 * i);
        break;
    }
  }
}

/** Write n bytes of buf at pos; a short write continues, one that makes no progress is ENOSPC. */
function writeAllAt(fd: number, buf: Buffer, n: number, pos: number, file: string): void {
  for (let done = 0; done < n;) {
    const k = fs.writeSync(fd, buf, done, n - done, pos + done);
    if (k <= 0)
      throw Object.assign(new Error(`ENOSPC: no progress writing ${file} at byte ${pos + done}`), {
        code: 'ENOSPC',
        path: file,
      });
    done += k;
  }
}

/** Write a primary-HDU image; returns the file size. Rows are written in strips of about 1 MiB. */
export function writeFitsImage(o: WriteImageOptions): number {
  const cards: HeaderCard[] = [
    ['SIMPLE', true, 'conforms to FITS standard'],
    ['BITPIX', o.bitpix],
    ['NAXIS', o.axes.length],
    ...o.axes.map((n, i): HeaderCard => [`NAXIS${i + 1}`, n]),
    ...(o.cards ?? []),
  ];
  const fd = fs.openSync(o.path, 'w');
  try {
    const head = headerBlock(cards);
    fs.writeSync(fd, head);
    let pos = head.length;
    const [nx = 0, ny = 1] = o.axes;
    const planes = o.axes.slice(2).reduce((a, b) => a * b, 1);
    const bpp = Math.abs(o.bitpix) / 8;
    const rowBytes = nx * bpp;
    const rowsPerStrip = Math.max(1, Math.floor((1 << 20) / Math.max(1, rowBytes)));
    const buf = Buffer.alloc(rowsPerStrip * rowBytes);
    let dataBytes = 0;
    if (o.axes.length > 0 && nx > 0) {
      for (let k = 0; k < planes; k++) {
        for (let y0 = 0; y0 < ny; y0 += rowsPerStrip) {
          const rows = Math.min(rowsPerStrip, ny - y0);
          for (let r = 0; r < rows; r++) encodeRow(o.bitpix, o.row(y0 + r, k), buf, r * rowBytes);
          writeAllAt(fd, buf, rows * rowBytes, pos, o.path);
          pos += rows * rowBytes;
          dataBytes += rows * rowBytes;
        }
      }
    }
    const pad = (BLOCK - (dataBytes % BLOCK)) % BLOCK;
    if (pad) writeAllAt(fd, Buffer.alloc(pad), pad, pos, o.path);
    if (o.fsync) fs.fsyncSync(fd);
    return pos + pad;
  } finally {
    fs.closeSync(fd);
  }
}
