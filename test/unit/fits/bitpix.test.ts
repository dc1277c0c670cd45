// On generated files: every BITPIX, BSCALE/BZERO (including the unsigned-16 offset), BLANK → NaN,
// and BITPIX 64 losing no more than the rounding to float64.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openImage,
  planeStats,
  readPlane,
  writeFitsImage,
  type Bitpix,
  type HeaderCard,
} from '../../../lib/fits/index.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-bitpix-')));
afterAll(() => removeTmpDir(dir));

interface Case {
  name: string;
  bitpix: Bitpix;
  cards?: HeaderCard[];
  raw: (i: number) => number | bigint;
  /** The physical value the reader must give (NaN for BLANK). */
  physical: (i: number) => number;
}

const nx = 7;
const ny = 5;
const f32 = Math.fround;
const cases: Case[] = [
  { name: 'u8', bitpix: 8, raw: (i) => (i * 37) % 256, physical: (i) => (i * 37) % 256 },
  {
    name: 'u16 (BZERO 32768)',
    bitpix: 16,
    cards: [
      ['BZERO', 32768],
      ['BSCALE', 1],
    ],
    raw: (i) => i * 1800 - 32768,
    physical: (i) => i * 1800,
  },
  {
    name: 'i16 scaled',
    bitpix: 16,
    cards: [
      ['BSCALE', 0.0458],
      ['BZERO', 1500],
    ],
    raw: (i) => i * 97 - 1000,
    physical: (i) => f32(f32((i * 97 - 1000) * f32(0.0458)) + f32(1500)),
  },
  {
    name: 'i32',
    bitpix: 32,
    raw: (i) => i * 123_456_7 - 2_000_000_000,
    physical: (i) => i * 123_456_7 - 2_000_000_000,
  },
  {
    name: 'i64 + BLANK',
    bitpix: 64,
    cards: [['BLANK', -1]],
    raw: (i) => (i === 3 ? -1n : 2n ** 62n + BigInt(i) * 1_000_003n),
    physical: (i) => (i === 3 ? NaN : Number(2n ** 62n + BigInt(i) * 1_000_003n)),
  },
  {
    name: 'f32',
    bitpix: -32,
    raw: (i) => (i === 4 ? NaN : f32(i * 0.1 - 1)),
    physical: (i) => (i === 4 ? NaN : f32(i * 0.1 - 1)),
  },
  { name: 'f64', bitpix: -64, raw: (i) => Math.PI * i * 1e-7, physical: (i) => Math.PI * i * 1e-7 },
];

describe.each(cases)('BITPIX $bitpix: $name', (c) => {
  const file = (): string => path.join(dir, `${c.name.replace(/\W+/g, '_')}.fits`);
  beforeAll(() => {
    writeFitsImage({
      path: file(),
      bitpix: c.bitpix,
      axes: [nx, ny],
      cards: c.cards,
      row: (y) => Array.from({ length: nx }, (_, x) => c.raw(y * nx + x)) as number[],
    });
  });

  it('decodes every pixel to the physical value', () => {
    const img = openImage(file());
    const data = readPlane(img, 0);
    img.close();
    for (let i = 0; i < nx * ny; i++) {
      const want = c.physical(i);
      if (Number.isNaN(want)) expect(data[i]).toBeNaN();
      else expect(data[i]).toBe(c.bitpix === 64 || c.bitpix === 32 || c.bitpix === -64 ? want : f32(want));
    }
  });

  it('counts, min, max and sum agree with the expected values', () => {
    const want = Array.from({ length: nx * ny }, (_, i) => c.physical(i)).filter((v) => !Number.isNaN(v));
    const r = planeStats(file());
    expect(r.nFinite).toBe(want.length);
    expect(r.nNonFinite).toBe(nx * ny - want.length);
    expect(r.min).toBe(Math.min(...want));
    expect(r.max).toBe(Math.max(...want));
    const sum = want.reduce((a, b) => a + b, 0);
    expect(Math.abs(r.sum - sum)).toBeLessThanOrEqual(1e-12 * Math.abs(sum) + 1e-12);
  });
});
