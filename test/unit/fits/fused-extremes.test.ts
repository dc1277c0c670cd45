// The fused loops' minimum and maximum, pixel by pixel: each of the unrolled block's sixteen comparisons, the
// checked loops (a bin that starts non-finite, a block holding a non-finite pixel) and a bin's tail each keep
// the plane's extreme when it falls on them, and keep the first of two equal zeros of opposite sign as the
// separate pass (addMoments) does. Clean noise around the extreme, so no non-finite pixel sends a block to the
// checked loop unless the case asks for one. Both the decoded loop (addWithMoments) and the big-endian one.
import { describe, expect, it } from 'vitest';
import { Downsampler } from '../../../lib/fits/index.js';
import { addMoments, Moments } from '../../../lib/fits/moments.js';
import { mulberry32 } from '../../helpers/random.js';

// Bins of 15 pixels (120 → 8): an unrolled block of eight, then a tail of seven.
const NX = 120;
const NY = 3;
const MAX_DIM = 8;
const BIN = 15;

type Path = 'block' | 'tail' | 'bin starts non-finite' | 'block holds a non-finite pixel';
type Extreme = 'min' | 'max' | 'min: +0 then −0' | 'max: −0 then +0';

/** Offsets in a bin where the extreme may fall on each path. */
const OFFSETS: Record<Path, number[]> = {
  block: [0, 1, 2, 3, 4, 5, 6, 7],
  tail: [8, 9, 10, 11, 12, 13, 14],
  'bin starts non-finite': [1, 4, 7, 8, 14],
  'block holds a non-finite pixel': [0, 1, 2, 3, 4, 5, 6, 7],
};

function plane(path: Path, extreme: Extreme, offset: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const negative = extreme === 'max: −0 then +0';
  const px = Float32Array.from({ length: NX * NY }, () => (negative ? -1 : 1) * (0.25 + rand() / 2));
  // The extreme in row 1, bin 3; an earlier zero of the other sign in row 0 for the ties.
  const at = NX + 3 * BIN + offset;
  if (extreme === 'min') px[at] = -2;
  else if (extreme === 'max') px[at] = 2;
  else {
    px[5] = negative ? -0 : 0;
    px[at] = negative ? 0 : -0;
  }
  if (path === 'bin starts non-finite') px[NX + 3 * BIN] = NaN;
  if (path === 'block holds a non-finite pixel') px[NX + 3 * BIN + ((offset + 3) % 8)] = Infinity;
  return px;
}

function reference(px: Float32Array): Moments {
  const m = new Moments();
  addMoments(m, px, 0, px.length);
  return m;
}

function decoded(px: Float32Array): Moments {
  const m = new Moments();
  new Downsampler(NX, NY, MAX_DIM, 'mean').addWithMoments(px, 0, NY, m);
  return m;
}

function bigEndian(px: Float32Array): Moments {
  const b = Buffer.from(Float32Array.from(px).buffer);
  b.swap32();
  const m = new Moments();
  new Downsampler(NX, NY, MAX_DIM, 'mean').addBigEndianFloat32WithMoments(
    new DataView(b.buffer, b.byteOffset, b.length),
    0,
    NY,
    m,
  );
  return m;
}

describe('the fused loops keep every extreme', () => {
  const extremes: Extreme[] = ['min', 'max', 'min: +0 then −0', 'max: −0 then +0'];
  for (const path of Object.keys(OFFSETS) as Path[]) {
    it(`${path}: the minimum and maximum at every offset, ties of signed zeros as the separate pass`, () => {
      let seed = 1;
      for (const extreme of extremes) {
        for (const offset of OFFSETS[path]) {
          const px = plane(path, extreme, offset, seed++);
          const want = reference(px);
          for (const [loop, got] of [
            ['decoded', decoded(px)],
            ['big-endian', bigEndian(px)],
          ] as const) {
            const where = `${loop}, ${extreme} at offset ${offset}`;
            expect([where, got]).toEqual([where, want]);
            // toEqual aside: the sign of a zero extreme, explicitly.
            expect([where, Object.is(got.min, want.min), Object.is(got.max, want.max)]).toEqual([
              where,
              true,
              true,
            ]);
          }
          if (extreme === 'min') expect(want.min).toBe(-2);
          if (extreme === 'max') expect(want.max).toBe(2);
          if (extreme === 'min: +0 then −0') expect(Object.is(want.min, 0)).toBe(true);
          if (extreme === 'max: −0 then +0') expect(Object.is(want.max, -0)).toBe(true);
        }
      }
    });
  }

  it('a bin of fifteen: the block reads only its own eight pixels, the tail the other seven', () => {
    // A block reading one pixel past its bin would move the next bin's first pixel into this bin: the moments
    // would not change (every pixel still added once, in order), the picture would.
    const px = plane('block', 'min', 0, 99);
    const plain = new Downsampler(NX, NY, MAX_DIM, 'mean');
    plain.add(px, 0, NY);
    const want = Buffer.from(plain.data.buffer);
    const dec = new Downsampler(NX, NY, MAX_DIM, 'mean');
    dec.addWithMoments(px, 0, NY, new Moments());
    const b = Buffer.from(Float32Array.from(px).buffer);
    b.swap32();
    const be = new Downsampler(NX, NY, MAX_DIM, 'mean');
    be.addBigEndianFloat32WithMoments(new DataView(b.buffer, b.byteOffset, b.length), 0, NY, new Moments());
    expect(Buffer.from(dec.data.buffer).equals(want)).toBe(true);
    expect(Buffer.from(be.data.buffer).equals(want)).toBe(true);
  });
});
