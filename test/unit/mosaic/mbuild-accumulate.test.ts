// The linear-mosaic arithmetic: S = Σ A I/σ² ÷ Σ A²/σ² (Σ A² I′/σ² for PB-corrected tiles), W in Jy⁻²,
// empty pixels NaN, and the canvas statistics.
import { describe, expect, it } from 'vitest';
import { MosaicCanvas, canvasStats, medianAbove } from '../../../lib/mosaic/accumulate.js';

describe('accumulating tiles', () => {
  it('combines two tiles with A/σ² weights into the sky value and W = Σ A²/σ²', () => {
    const c = new MosaicCanvas(2, 1);
    const sky = 2; // Jy
    const [a1, s1, a2, s2] = [0.9, 1e-3, 0.2, 2e-3];
    c.add(0, a1 * sky, a1, 1 / s1 ** 2, false); // a tile sees A·sky
    c.add(0, a2 * sky, a2, 1 / s2 ** 2, false);
    expect(c.value(0)).toBeCloseTo(sky, 12);
    expect(c.weight[0]).toBeCloseTo(a1 ** 2 / s1 ** 2 + a2 ** 2 / s2 ** 2, 6);
    expect(c.value(1)).toBeNaN();
    expect(c.weight[1]).toBe(0);
  });

  it('weights the noise optimally: the variance of S is 1/W', () => {
    // Var(Σ A I/σ² / W) with independent noise σ_p in I_p = Σ A² σ²/σ⁴ / W² = 1/W.
    const [a1, s1, a2, s2] = [0.9, 1e-3, 0.2, 2e-3];
    const w = a1 ** 2 / s1 ** 2 + a2 ** 2 / s2 ** 2;
    const variance = ((a1 / s1 ** 2) ** 2 * s1 ** 2 + (a2 / s2 ** 2) ** 2 * s2 ** 2) / w ** 2;
    expect(variance).toBeCloseTo(1 / w, 15);
  });

  it('PB-corrected tiles are weighted by A² as well', () => {
    const c = new MosaicCanvas(1, 1);
    c.add(0, 3, 0.5, 1, true); // I′ = sky, weight A²/σ²
    c.add(0, 1, 1, 1, true);
    expect(c.value(0)).toBeCloseTo((0.25 * 3 + 1 * 1) / 1.25, 12);
    expect(c.weight[0]).toBeCloseTo(1.25, 12);
  });
});

describe('canvas statistics', () => {
  it('effective noise is the median 1/√W over W ≥ ½ max W; NaN holes inside the footprint are counted', () => {
    const c = new MosaicCanvas(10, 1);
    const ws = [0, 1, 2, 4, 5, 6, 7, 8, 0, 0];
    ws.forEach((w, i) => {
      c.weight[i] = w;
      if (i < 9) c.markFootprint(i);
    });
    const s = canvasStats(c);
    // inner: W ≥ 4 → 4,5,6,7,8 → median 6
    expect(s.effectiveNoiseJy).toBeCloseTo(1 / Math.sqrt(6), 12);
    expect(s.maxWeight).toBe(8);
    expect(s.coveredPixels).toBe(7);
    expect(s.footprintPixels).toBe(9);
    expect(s.nanFractionInFootprint).toBeCloseTo(2 / 9, 12);
  });

  it('medianAbove is the exact median of the values in range (even and odd counts)', () => {
    let seed = 7;
    const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (const n of [1, 2, 101, 100_000, 100_001]) {
      const a = Float64Array.from({ length: n }, () => rand() * 1e6);
      const inRange = [...a].filter((v) => v >= 2e5 && v <= 9e5).sort((x, y) => x - y);
      if (inRange.length === 0) continue;
      const h = inRange.length >> 1;
      const want = inRange.length % 2 ? inRange[h] : (inRange[h - 1] + inRange[h]) / 2;
      expect(medianAbove(a, 2e5, 9e5)).toBe(want);
    }
  });
});
