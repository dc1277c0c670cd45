// Test helpers for lib/fits: an independent PNG decoder (zlib inflate + all five row filters, palette and
// tRNS applied) and small FITS builders.
import fs from 'node:fs';
import zlib from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  colorType: number;
  /** RGBA, rows top-down. */
  rgba: Uint8Array;
  chunks: string[];
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(buf: Buffer): DecodedPng {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  let bitDepth = 0;
  let palette: Buffer | undefined;
  let trns: Buffer | undefined;
  const idat: Buffer[] = [];
  const chunks: string[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    const crc = buf.readUInt32BE(off + 8 + len);
    if (zlib.crc32(buf.subarray(off + 4, off + 8 + len)) >>> 0 !== crc) throw new Error(`bad CRC in ${type}`);
    chunks.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      bitDepth = data[8];
      colorType = data[9];
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  if (bitDepth !== 8) throw new Error(`bit depth ${bitDepth} not supported by the test decoder`);
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType as 0 | 2 | 3 | 4 | 6];
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= channels ? px[y * stride + x - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels] : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
      px[y * stride + x] = (v + pred) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    if (colorType === 3) {
      const k = px[i];
      rgba.set(
        [palette![3 * k], palette![3 * k + 1], palette![3 * k + 2], trns && k < trns.length ? trns[k] : 255],
        4 * i,
      );
    } else if (colorType === 6) rgba.set(px.subarray(4 * i, 4 * i + 4), 4 * i);
    else if (colorType === 2) rgba.set([...px.subarray(3 * i, 3 * i + 3), 255], 4 * i);
    else rgba.set([px[i], px[i], px[i], 255], 4 * i);
  }
  return { width, height, colorType, rgba, chunks };
}

/** RGBA of PNG pixel (x, y), y counted from the top. */
export function pixel(png: DecodedPng, x: number, y: number): [number, number, number, number] {
  const i = 4 * (y * png.width + x);
  return [png.rgba[i], png.rgba[i + 1], png.rgba[i + 2], png.rgba[i + 3]];
}

/** A header-only "file": cards padded to blocks, plus optional raw data bytes. */
export function rawFits(cards: string[], data: Buffer = Buffer.alloc(0)): Buffer {
  const text = cards.map((c) => c.padEnd(80).slice(0, 80)).join('') + 'END'.padEnd(80);
  const head = Buffer.from(text.padEnd(Math.ceil(text.length / 2880) * 2880, ' '), 'latin1');
  const pad = (2880 - (data.length % 2880)) % 2880;
  return Buffer.concat([head, data, Buffer.alloc(pad)]);
}

export function card(key: string, value: string): string {
  return `${key.padEnd(8)}= ${value.padStart(20)}`;
}

export function writeRaw(path: string, cards: string[], data?: Buffer): string {
  fs.writeFileSync(path, rawFits(cards, data));
  return path;
}
