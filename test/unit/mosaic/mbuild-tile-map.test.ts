// Mapping a tile onto the canvas through the coarse WCS node grid: the interpolated transform against the
// exact one at every pixel, the footprint box, and sampling (nearest, bilinear, NaN and edges).
import { describe, expect, it } from 'vitest';
import { MosaicCanvas } from '../../../lib/mosaic/accumulate.js';
import { makeBeam } from '../../../lib/mosaic/beam.js';
import {
  addTile,
  exactAt,
  footprintBox,
  nodePositions,
  nodeStepFor,
  sample,
} from '../../../lib/mosaic/tile-map.js';
import { gridWcs, type CelestialWcs } from '../../../lib/mosaic/wcs.js';

const DEC = 55.6;
const CELL = 3.5 / 512;
// A 12-tile science segment: pointings 1.291° of RA apart, the canvas centred between tiles 5 and 6.
const grid = gridWcs({
  projection: 'SIN',
  center: { ra: 127.1, dec: DEC },
  pixel_arcsec: CELL * 3600,
  nx: 1400,
  ny: 560,
});
const farTile: CelestialWcs = {
  projection: 'SIN',
  crpix: [257, 257],
  crval: [127.1 + 5.5 * 1.291, DEC],
  cd: [-CELL, 0, 0, CELL],
  lonpole: 180,
};
const beam = makeBeam({
  dishM: 4.65,
  freqHz: 1.405e9,
  pointing: { ra: farTile.crval[0], dec: DEC },
  smearRaDeg: 1.291,
});

/** A tile whose pixel values are their own x (or y) index: bilinear sampling returns the position itself. */
function ramp(axis: 0 | 1): Float32Array {
  const p = new Float32Array(512 * 512);
  for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) p[y * 512 + x] = axis === 0 ? x : y;
  return p;
}

describe('the coarse node grid', () => {
  it('node positions step 16 and always include the last pixel', () => {
    expect([...nodePositions(0, 32)]).toEqual([0, 16, 32]);
    expect([...nodePositions(5, 40)]).toEqual([5, 21, 37, 40]);
    expect([...nodePositions(7, 7)]).toEqual([7]);
  });

  it('the step is 16 at DSA-110 pixels and finer for coarse pixels', () => {
    expect(nodeStepFor(2.5, 2.706)).toBe(16);
    expect(nodeStepFor(24.6, 2.706)).toBe(2); // 16 px would span 0.11°, 8× FWHM/200
    expect(nodeStepFor(3600, 2.706)).toBe(2);
  });

  it.each([
    ['every 16th pixel', 16, 1e-3, 2.5e-3],
    ['the step nodeStepFor gives', nodeStepFor(CELL * 3600, 2.706), 1e-4, 1e-4],
  ])(
    'interpolating at %s misplaces no pixel of the far tile of a 12-tile segment by more than %s px / %s in A',
    (_l, step, posTol, aTol) => {
      const box = footprintBox(farTile, 512, 512, grid, 1400, 560)!;
      expect(box.x0).toBe(0); // the far tile (highest RA) reaches the canvas's east edge (x = 0)...
      expect(box.x1).toBeLessThan(600); // ...and only its own box is mapped
      const measured: { pos: number[]; a: Float64Array }[] = [];
      for (const axis of [0, 1] as const) {
        const c = new MosaicCanvas(1400, 560);
        // PB-corrected, σ = 1: S = the sampled value (the interpolated tile position), W = A².
        addTile(
          c,
          grid,
          { wcs: farTile, nx: 512, ny: 512, pixels: ramp(axis), beam, invVar: 1, pbcor: true },
          box,
          {
            pbCutoff: 1e-9,
            interpolation: 'bilinear',
            step,
          },
        );
        measured.push({
          pos: Array.from(c.num, (n, i) => (c.weight[i] > 0 ? n / c.weight[i] : NaN)),
          a: c.weight,
        });
      }
      const out = new Float64Array(3);
      const tmp = new Float64Array(2);
      let worstPos = 0;
      let worstA = 0;
      let n = 0;
      for (let y = box.y0; y <= box.y1; y++) {
        for (let x = box.x0; x <= box.x1; x++) {
          exactAt(grid, farTile, beam, x, y, out, tmp);
          // interior pixels only, where bilinear (exact on a ramp) was used
          if (!(out[0] >= 1 && out[1] >= 1 && out[0] <= 510 && out[1] <= 510)) continue;
          const i = y * 1400 + x;
          worstPos = Math.max(
            worstPos,
            Math.abs(measured[0].pos[i] - out[0]),
            Math.abs(measured[1].pos[i] - out[1]),
          );
          worstA = Math.max(worstA, Math.abs(Math.sqrt(measured[0].a[i]) - out[2]));
          n++;
        }
      }
      expect(n).toBeGreaterThan(150_000);
      expect(worstPos).toBeLessThan(posTol);
      expect(worstA).toBeLessThan(aTol);
    },
  );

  it('a tile off the canvas has no box', () => {
    const away = { ...farTile, crval: [200, DEC] as [number, number] };
    expect(footprintBox(away, 512, 512, grid, 1400, 560)).toBeUndefined();
  });
});

describe('sampling a tile', () => {
  // 3 × 3, row 0 at the bottom; (1, 2) is blank
  const t = { nx: 3, ny: 3, pixels: Float32Array.from([0, 1, 2, 10, 11, 12, 20, NaN, 22]) };
  it('nearest rounds to the closest pixel; outside the image is undefined', () => {
    expect(sample(t, 0.4, 0.4, 'nearest')).toBe(0);
    expect(sample(t, 1.6, 0.4, 'nearest')).toBe(2);
    expect(sample(t, -0.6, 0, 'nearest')).toBeUndefined();
    expect(sample(t, 2.4, 1.4, 'nearest')).toBe(12);
    expect(sample(t, 2.6, 0, 'nearest')).toBeUndefined();
    expect(sample(t, 1, 2, 'nearest')).toBeNaN();
  });
  it('bilinear weighs four finite neighbours; a NaN neighbour or an edge falls back to the nearest pixel', () => {
    expect(sample(t, 0.5, 0, 'bilinear')).toBeCloseTo(0.5, 6);
    expect(sample(t, 0.25, 0.5, 'bilinear')).toBeCloseTo(0.25 + 5, 6);
    expect(sample(t, 1.5, 0.5, 'bilinear')).toBeCloseTo(6.5, 6);
    expect(sample(t, 0.4, 1.3, 'bilinear')).toBe(10); // (1, 2) is blank → nearest (0, 1)
    expect(sample(t, 1.2, 1.8, 'bilinear')).toBeNaN(); // the nearest is the blank pixel itself: zero weight
    expect(sample(t, 2.3, 0.1, 'bilinear')).toBe(2); // beyond the last column → nearest
  });
});
