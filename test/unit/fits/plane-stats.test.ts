// `contimg fits stats` (planeStats) on generated files: the defaults it passes on (contrast, the pixel limit),
// the data BITPIX astropy reports after scaling, and the file closed whatever happens.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_PIXELS,
  headerBlock,
  planeStats,
  StatsAccumulator,
  writeFitsImage,
  type Bitpix,
  type HeaderCard,
} from '../../../lib/fits/index.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-plane-stats-')));
afterAll(() => removeTmpDir(dir));

describe('planeStats', () => {
  it('contrast 0.25 by default, and the file is closed after the statistics or a refused plane', () => {
    // A 40 × 30 ramp plus a bright pixel: zscale's slope, hence its limits, depend on the contrast.
    const f = `${dir}/ramp.fits`;
    writeFitsImage({
      path: f,
      bitpix: -32,
      axes: [40, 30],
      row: (y) => Float32Array.from({ length: 40 }, (_, x) => (x === 7 && y === 9 ? 500 : y * 40 + x)),
    });
    const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = openFds();
    const r = planeStats(f);
    // The statistics of the whole plane: every one of its 1200 pixels sampled for the median and MAD.
    const acc = new StatsAccumulator(1200);
    for (let y = 0; y < 30; y++)
      acc.add(Float32Array.from({ length: 40 }, (_, x) => (x === 7 && y === 9 ? 500 : y * 40 + x)));
    expect(r).toMatchObject({ ...acc.result() });
    expect(r.robustSamples).toBe(1200);
    expect(r.contrast).toBe(0.25);
    expect(r.zscale).toEqual(planeStats(f, { contrast: 0.25 }).zscale);
    expect(r.zscale).not.toEqual(planeStats(f, { contrast: 1 }).zscale);
    expect(() => planeStats(f, { select: { plane: 3 } })).toThrow(
      expect.objectContaining({ code: 'BAD_PLANE' }),
    );
    expect(openFds()).toBe(before);
  });

  it("refuses a plane above the renderer's pixel limit from its header alone (TOO_LARGE, not a truncated file)", () => {
    // A header for 16385 × 16384 float pixels with no data: DEFAULT_MAX_PIXELS is 16384².
    const f = `${dir}/huge-header.fits`;
    fs.writeFileSync(
      f,
      headerBlock([
        ['SIMPLE', true],
        ['BITPIX', -32],
        ['NAXIS', 2],
        ['NAXIS1', 16385],
        ['NAXIS2', 16384],
      ]),
    );
    expect(DEFAULT_MAX_PIXELS).toBe(16384 * 16384);
    expect(() => planeStats(f)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    // A limit of its own wins; without one the file is only short of data.
    expect(() => planeStats(f, { maxPixels: 2 ** 40 })).toThrow(
      expect.objectContaining({ code: 'TRUNCATED_DATA' }),
    );
  });

  // astropy's data dtype after scaling: integers kept as they are with no scaling or only the unsigned
  // offset (BZERO 32768 on 16 bits, −128 on 8), else float32 for 8/16 bits and float64 for 32/64 bits;
  // float data keep their own type.
  it.each<[string, Bitpix, HeaderCard[], number]>([
    ['int16', 16, [], 16],
    ['int8 (BZERO −128)', 8, [['BZERO', -128]], 8],
    ['uint8 with BZERO 1', 8, [['BZERO', 1]], -32],
    ['uint16 (BZERO 32768)', 16, [['BZERO', 32768]], 16],
    ['int16 with BSCALE 0.5', 16, [['BSCALE', 0.5]], -32],
    ['int16 with BZERO 100', 16, [['BZERO', 100]], -32],
    [
      'int16 with BSCALE 2 and BZERO 32768',
      16,
      [
        ['BSCALE', 2],
        ['BZERO', 32768],
      ],
      -32,
    ],
    ['int32 with BSCALE 2', 32, [['BSCALE', 2]], -64],
    ['int32 with BZERO 2³¹ (uint32)', 32, [['BZERO', 2 ** 31]], 32],
    ['float32 with BSCALE 2', -32, [['BSCALE', 2]], -32],
    ['float64 with BZERO 1', -64, [['BZERO', 1]], -64],
  ])('%s: the data BITPIX is %d after scaling', (name, bitpix, cards, want) => {
    const f = `${dir}/${name.replace(/\W+/g, '_')}.fits`;
    writeFitsImage({ path: f, bitpix, axes: [4, 3], cards, row: (y) => [y, y + 1, y + 2, y + 3] });
    const r = planeStats(f);
    expect([r.bitpix, r.dataBitpix]).toEqual([bitpix, want]);
    expect(r.nFinite).toBe(12);
  });
});
