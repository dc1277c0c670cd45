// The atomic writer on a real full file system (a small tmpfs): a PNG that does not fit is never renamed
// into place, whatever write(2) managed to write; once space is back the same call writes a sound PNG.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colormap, encodeIndexedPng, writeFileAtomic } from '../../../lib/fits/index.js';
import { checkPng } from '../../helpers/png-check.js';
import { fillDisk, freeBytes, mountTmpfs, unmountTmpfs } from '../../helpers/tmpfs.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
let disk: string;
beforeAll(() => {
  dir = makeTmpDir('atomic-');
  disk = mountTmpfs(path.join(dir, 'disk'), 256 * 1024);
});
afterAll(() => {
  unmountTmpfs(disk);
  removeTmpDir(dir);
});

/** A ~60 kB indexed PNG: random indices barely compress. */
function noisyPng(): Buffer {
  const n = 256;
  return encodeIndexedPng(crypto.randomBytes(n * n), n, n, colormap('inferno'), { level: 1 });
}

describe('writeFileAtomic on a full disk', () => {
  it('fails with ENOSPC and leaves neither the target nor a temp file when the PNG does not fit', () => {
    const png = noisyPng();
    expect(png.length).toBeGreaterThan(40_000);
    const filler = fillDisk(disk, 16 * 1024);
    expect(freeBytes(disk)).toBeLessThan(png.length);
    const target = path.join(disk, 'thumb.png');
    expect(() => writeFileAtomic(target, png)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(fs.readdirSync(disk)).toEqual([path.basename(filler)]);
    fs.rmSync(filler);
    writeFileAtomic(target, png);
    expect(checkPng(fs.readFileSync(target))).toMatchObject({ width: 256, height: 256 });
    expect(fs.readFileSync(target).equals(png)).toBe(true);
    expect(fs.readdirSync(disk)).toEqual(['thumb.png']);
  });

  it('keeps the previous file intact when its replacement does not fit', () => {
    const target = path.join(disk, 'keep.png');
    const first = noisyPng();
    writeFileAtomic(target, first);
    const filler = fillDisk(disk, 8 * 1024, 'filler2.bin');
    expect(() => writeFileAtomic(target, noisyPng())).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(fs.readFileSync(target).equals(first)).toBe(true);
    expect(checkPng(fs.readFileSync(target)).chunks.at(-1)).toBe('IEND');
    fs.rmSync(filler);
  });
});
