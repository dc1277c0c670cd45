// A full structural check of a PNG file, independent of lib/fits: the signature, every chunk's length and
// CRC, IHDR first with a valid header, IEND last with nothing after it, and the concatenated IDAT zlib
// stream inflating (checksum included) to exactly height × (1 + bytes per row). A file cut anywhere fails.
import zlib from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export interface PngSummary {
  width: number;
  height: number;
  chunks: string[];
}

/** Throws an Error naming the first defect; returns the summary of a sound PNG. */
export function checkPng(buf: Buffer): PngSummary {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('bad PNG signature');
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = -1;
  let off = 8;
  while (off < buf.length) {
    if (off + 12 > buf.length) throw new Error(`chunk header cut at byte ${off}`);
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > buf.length) throw new Error(`chunk ${type} cut: needs ${len} bytes at ${off}`);
    const crc = buf.readUInt32BE(off + 8 + len);
    if (zlib.crc32(buf.subarray(off + 4, off + 8 + len)) >>> 0 !== crc) throw new Error(`bad CRC in ${type}`);
    if (chunks.length === 0 && type !== 'IHDR') throw new Error(`first chunk is ${type}, not IHDR`);
    if (chunks.includes('IEND')) throw new Error(`chunk ${type} after IEND`);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      if (len !== 13) throw new Error(`IHDR length ${len}`);
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      bitDepth = data[8];
      colorType = data[9];
      if (width === 0 || height === 0) throw new Error('zero-sized image');
      if (!(colorType in CHANNELS)) throw new Error(`colour type ${colorType}`);
    } else if (type === 'IDAT') idat.push(data);
    chunks.push(type);
    off += 12 + len;
  }
  if (chunks[chunks.length - 1] !== 'IEND') throw new Error('no IEND at the end');
  if (idat.length === 0) throw new Error('no IDAT');
  const rowBytes = Math.ceil((width * CHANNELS[colorType] * bitDepth) / 8);
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(Buffer.concat(idat));
  } catch (e) {
    throw new Error(`IDAT does not inflate: ${(e as Error).message}`);
  }
  if (raw.length !== height * (1 + rowBytes))
    throw new Error(`IDAT inflates to ${raw.length} bytes, expected ${height * (1 + rowBytes)}`);
  return { width, height, chunks };
}
