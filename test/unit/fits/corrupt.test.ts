// Broken files give their code and retry decision, never a partial image.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryableFitsCode, openImage, renderThumbnail, writeFitsImage } from '../../../lib/fits/index.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { card, writeRaw } from './helpers.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-corrupt-')));
afterAll(() => removeTmpDir(dir));

function codeOf(fn: () => unknown): { code: string; retryable: boolean } {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code: string }).code, retryable: (e as { retryable: boolean }).retryable };
  }
  throw new Error('expected a failure');
}

describe('corrupt and truncated input', () => {
  it('random bytes → NOT_FITS; SIMPLE = F → NOT_FITS; BITPIX 12 → BAD_BITPIX; NAXIS −1 → BAD_NAXIS (all permanent)', () => {
    const rnd = path.join(dir, 'random.fits');
    fs.writeFileSync(rnd, Buffer.from(Array.from({ length: 8000 }, (_, i) => (i * 7919 + 13) % 251)));
    const simpleF = writeRaw(path.join(dir, 'simplef.fits'), [
      card('SIMPLE', 'F'),
      card('BITPIX', '8'),
      card('NAXIS', '0'),
    ]);
    const bitpix12 = writeRaw(
      path.join(dir, 'bitpix12.fits'),
      [
        card('SIMPLE', 'T'),
        card('BITPIX', '12'),
        card('NAXIS', '2'),
        card('NAXIS1', '2'),
        card('NAXIS2', '2'),
      ],
      Buffer.alloc(16),
    );
    const naxisNeg = writeRaw(path.join(dir, 'naxisneg.fits'), [
      card('SIMPLE', 'T'),
      card('BITPIX', '8'),
      card('NAXIS', '-1'),
    ]);
    expect(codeOf(() => renderThumbnail(rnd))).toEqual({ code: 'NOT_FITS', retryable: false });
    expect(codeOf(() => renderThumbnail(simpleF))).toEqual({ code: 'NOT_FITS', retryable: false });
    expect(codeOf(() => renderThumbnail(bitpix12))).toEqual({ code: 'BAD_BITPIX', retryable: false });
    expect(codeOf(() => renderThumbnail(naxisNeg))).toEqual({ code: 'BAD_NAXIS', retryable: false });
  });

  it('a 2000-byte file → TOO_SMALL; a header without END → NO_END (permanent once settled)', () => {
    const small = path.join(dir, 'small.fits');
    fs.writeFileSync(small, Buffer.alloc(2000, 0x20));
    const noEnd = path.join(dir, 'noend.fits');
    fs.writeFileSync(
      noEnd,
      Buffer.from(
        [card('SIMPLE', 'T'), card('BITPIX', '8'), card('NAXIS', '0')]
          .map((c) => c.padEnd(80))
          .join('')
          .padEnd(2880),
        'latin1',
      ),
    );
    expect(codeOf(() => renderThumbnail(small))).toEqual({ code: 'TOO_SMALL', retryable: false });
    expect(codeOf(() => renderThumbnail(noEnd))).toEqual({ code: 'NO_END', retryable: false });
  });

  it('a file cut mid-data → TRUNCATED_DATA (retryable) before any pixel is decoded', () => {
    const p = path.join(dir, 'cut.fits');
    writeFitsImage({
      path: p,
      bitpix: -32,
      axes: [512, 512, 1, 1],
      row: () => new Float32Array(512).fill(1),
    });
    fs.truncateSync(p, 2880 + 512 * 4 * 300);
    expect(codeOf(() => renderThumbnail(p))).toEqual({ code: 'TRUNCATED_DATA', retryable: true });
    expect(codeOf(() => openImage(p))).toEqual({ code: 'TRUNCATED_DATA', retryable: true });
  });

  it('a missing file → SOURCE_MISSING (retryable)', () => {
    expect(codeOf(() => renderThumbnail(path.join(dir, 'nope.fits')))).toEqual({
      code: 'SOURCE_MISSING',
      retryable: true,
    });
    expect(isRetryableFitsCode('SOURCE_MISSING')).toBe(true);
    expect(isRetryableFitsCode('NOT_FITS')).toBe(false);
  });
});
