// Metadata of a file's first image HDU without reading pixels (header blocks only).
import fs from 'node:fs';
import { openForRead } from './errors.js';
import { findFirstImage } from './hdu.js';
import { extractMetadata, type FitsMetadata } from './metadata.js';

export function headerMetadata(
  path: string,
  opts: { maxBlocks?: number } = {},
): FitsMetadata & { hdu: number } {
  const fd = openForRead(path);
  try {
    const hdu = findFirstImage(fd, { maxBlocks: opts.maxBlocks });
    return { hdu: hdu.index, ...extractMetadata(hdu.header) };
  } finally {
    fs.closeSync(fd);
  }
}
