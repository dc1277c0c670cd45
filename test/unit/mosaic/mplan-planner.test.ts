// The pure planner (lib/mosaic/plan): eligibility reasons one by one, runs cut at gaps and strip changes,
// quicklook tiles and science segments on their fixed UTC grid, names, the inputs hash, the grid on the sky
// with cos δ, the memory model, and the split in RA (or grid_too_large) instead of a coarser pixel.
import { describe, expect, it } from 'vitest';
import {
  cutRuns,
  deepName,
  unitMemoryBytes,
  globToRegExp,
  gridFor,
  inputsHash,
  isContinuumPlane,
  judge,
  planMosaics,
  splitToFit,
  stripLabel,
  unitName,
  type Candidate,
  type PlannerSettings,
  type UnitInput,
} from '../../../lib/mosaic/plan/index.js';

const CAD = 309_000;
const D = Date.parse('2025-12-05T00:00:00Z');
const GIB = 1024 ** 3;

function cand(i: number, o: Partial<Candidate> = {}): Candidate {
  const path = `/data/img/o${i}.image.fits`;
  return {
    imageId: i + 1,
    path,
    registeredPath: path,
    msPath: `/data/ms/o${i}.ms`,
    registeredAtMs: D,
    file: {
      size: 1000 + i,
      mtimeNs: `${1_700_000_000_000_000_000n + BigInt(i)}`,
      ino: 100 + i,
      isDirectory: false,
    },
    obsMidMs: D + 10 * 3_600_000 + i * CAD,
    decDeg: 55.57,
    raDeg: (150 + i * 1.291) % 360,
    hasMetadata: true,
    noiseJy: 0.0005,
    naxis: [5040, 5040, 1, 1],
    ctype: ['RA---SIN', 'DEC--SIN'],
    frame: 'FK5/2000',
    pixelArcsec: 2.5,
    freqHz: 1.405e9,
    ...o,
  };
}

function settings(o: Partial<PlannerSettings> = {}): PlannerSettings {
  return {
    tier: 'science',
    rules: { minImages: 5, maxImages: 100, noiseMaxJy: 0.001, segmentMinutes: 60, overlapImages: 2 },
    inputGlobs: ['*.image.fits'],
    inputKind: 'image',
    metadataWaitS: 600,
    stripTolDeg: 0.1,
    cadenceS: 309,
    maxGapS: 371,
    projection: 'SIN',
    pixelArcsec: null,
    maxCanvasPixels: 2e8,
    memoryMaxBytes: 32 * GIB,
    window: { fromMs: D, toMs: D + 86_400_000 },
    ...o,
  };
}

const NOW = D + 2 * 86_400_000;
const verdict = (c: Candidate, s = settings(), now = NOW) => judge(c, s, s.inputGlobs.map(globToRegExp), now);

describe('eligibility: the first rule an image breaks is its reason', () => {
  it.each([
    ['a residual', cand(0, { path: '/d/o.residual.fits', registeredPath: '/d/o.residual.fits' }), 'type'],
    ['a psf', cand(0, { path: '/d/o-psf.fits', registeredPath: '/d/o-psf.fits' }), 'type'],
    [
      'a name outside the globs',
      cand(0, { path: '/d/o.dirtyish.fits', registeredPath: '/d/o.dirtyish.fits' }),
      'type',
    ],
    ['a missing file', cand(0, { file: null }), 'missing'],
    [
      'a CASA directory',
      cand(0, {
        path: '/d/o.image',
        registeredPath: '/d/o.image',
        file: { size: 4096, mtimeNs: '1', ino: 1, isDirectory: true },
      }),
      'format',
    ],
    [
      'no metadata after the wait',
      cand(0, { hasMetadata: false, registeredAtMs: NOW - 601_000 }),
      'no_metadata',
    ],
    ['no observation time', cand(0, { obsMidMs: null }), 'no_metadata'],
    ['a cube', cand(0, { naxis: [64, 64, 7, 1] }), 'not_continuum'],
    ['a spectrum axis first', cand(0, { ctype: ['FREQ', 'DEC--SIN'] }), 'not_continuum'],
    ['noise at the limit', cand(0, { noiseJy: 0.001 }), 'noise'],
  ])('%s → %s', (_what, c, reason) => {
    expect(verdict(c)).toEqual({ kind: 'rejected', reason });
  });

  it('waits for metadata within metadataWaitS, then rejects', () => {
    const c = cand(0, { hasMetadata: false, registeredAtMs: NOW - 599_000 });
    expect(verdict(c)).toEqual({ kind: 'waiting' });
    expect(verdict(c, settings(), NOW + 2000)).toEqual({ kind: 'rejected', reason: 'no_metadata' });
  });

  it('rejects another strip only when a strip is asked for', () => {
    expect(verdict(cand(0, { decDeg: 55.8 }))).toEqual({ kind: 'eligible' });
    expect(verdict(cand(0, { decDeg: 55.8 }), settings({ stripDeg: 55.6 }))).toEqual({
      kind: 'rejected',
      reason: 'dec',
    });
    expect(verdict(cand(0, { decDeg: 55.69 }), settings({ stripDeg: 55.6 }))).toEqual({ kind: 'eligible' });
  });

  it('a continuum plane: two celestial axes, every other axis of length 1', () => {
    expect(isContinuumPlane([10, 10], ['RA---TAN', 'DEC--TAN'])).toBe(true);
    expect(isContinuumPlane([10, 10, 1, 1], ['GLON-CAR', 'GLAT-CAR'])).toBe(true);
    expect(isContinuumPlane([10, 1], ['RA---SIN', 'DEC--SIN'])).toBe(false);
    expect(isContinuumPlane([10, 10, 2], ['RA---SIN', 'DEC--SIN'])).toBe(false);
  });
});

describe('runs', () => {
  it('cut at gaps over maxGapS and where the declination leaves the strip', () => {
    const at = (t: number, dec = 55.57) => ({ item: t, obsMidMs: t, decDeg: dec });
    const runs = cutRuns(
      [at(0), at(309_000), at(681_000), at(990_000), at(1_299_000, 30), at(1_608_000, 30.05)],
      { maxGapS: 371, stripTolDeg: 0.1 },
    );
    expect(runs.map((r) => [r.stripDeg, r.members.map((m) => m.item)])).toEqual([
      [55.6, [0, 309_000]],
      [55.6, [681_000, 990_000]],
      [30, [1_299_000, 1_608_000]],
    ]);
  });
});

describe('names and hashes', () => {
  it('names a unit by tier, strip and window (UTC), deep by label, RA box and dates', () => {
    expect(
      unitName('science', 55.57, Date.parse('2025-12-05T10:00:00Z'), Date.parse('2025-12-05T11:00:00Z')),
    ).toBe('science_d+55.6_20251205T1000_1100');
    expect(stripLabel(-5.04)).toBe('-05.0');
    expect(stripLabel(7.96)).toBe('+08.0');
    expect(deepName('ngc', 120, 135.5, D, D + 3 * 86_400_000)).toBe('deep_ngc_120.0-135.5_20251205-20251207');
  });

  it('hashes the sorted (path, size, mtime_ns, ino) tuples: order does not matter, any field does', () => {
    const a = { path: '/a', size: 1, mtimeNs: '5', ino: 9 };
    const b = { path: '/b', size: 2, mtimeNs: '6', ino: 8 };
    expect(inputsHash([a, b])).toBe(inputsHash([b, a]));
    expect(inputsHash([a, b])).toMatch(/^[0-9a-f]{64}$/);
    for (const changed of [
      { ...a, size: 3 },
      { ...a, mtimeNs: '7' },
      { ...a, ino: 1 },
      { ...a, path: '/c' },
    ])
      expect(inputsHash([changed, b])).not.toBe(inputsHash([a, b]));
  });
});

const input = (i: number, o: Partial<UnitInput> = {}): UnitInput => ({
  imageId: i,
  path: `/i${i}`,
  size: 1,
  mtimeNs: '1',
  ino: i,
  obsMidMs: i * CAD,
  raDeg: 150 + i * 1.291,
  decDeg: 55.57,
  noiseJy: 0.0005,
  kind: 'image',
  pixelArcsec: 2.5,
  nx: 5040,
  ny: 5040,
  freqHz: null,
  ...o,
});

describe('grid and memory', () => {
  it('sizes the canvas on the sky: (RA span + width / cos δ) · cos δ, at the median pixel, centred', () => {
    const inputs = Array.from({ length: 12 }, (_, i) => input(i));
    const g = gridFor(inputs, { frame: 'FK5/2000', projection: 'SIN', pixelArcsec: null });
    const span = 11 * 1.291;
    const cosd = Math.cos((55.57 * Math.PI) / 180);
    expect(g.nx).toBe(Math.ceil(((span + 3.5 / cosd) * cosd * 3600) / 2.5));
    expect(g.ny).toBe(5040);
    expect(g.center.ra).toBeCloseTo(150 + span / 2, 9);
    expect(g.center.dec).toBeCloseTo(55.57, 9);
    expect(g).toMatchObject({ frame: 'FK5/2000', projection: 'SIN', pixel_arcsec: 2.5 });
    // A 1-h segment at +55.6° is about 11.5° × 3.5° on the sky: ≈ 83 Mpx at 2.5″.
    expect(g.nx * g.ny).toBeGreaterThan(82e6);
    expect(g.nx * g.ny).toBeLessThan(85e6);
    const mem = unitMemoryBytes(g, inputs);
    expect(mem).toBe(Math.ceil(16.125 * g.nx * g.ny) + 8 * 5040 * 5040 + 128 * 1024 * 1024);
    // Within the builder's measured peak at this size (1.44 GiB at 86.8 Mpx) and its 1.5 GiB goal.
    expect(mem / 1024 ** 3).toBeGreaterThan(1.4);
    expect(mem / 1024 ** 3).toBeLessThan(1.6);
  });

  it('keeps the RA span contiguous across 0h', () => {
    const g = gridFor([input(0, { raDeg: 359 }), input(1, { raDeg: 0.291 })], {
      frame: 'ICRS',
      projection: 'TAN',
      pixelArcsec: 5,
    });
    expect(g.center.ra).toBeCloseTo(359.6455, 3);
    expect(g.raMin).toBeCloseTo(359, 9);
    expect(g.raMax).toBeCloseTo(0.291, 9);
    expect(g.pixel_arcsec).toBe(5);
  });

  it('splits in RA into the fewest groups that fit, never coarsening; refuses what cannot fit', () => {
    const inputs = Array.from({ length: 12 }, (_, i) => input(i));
    const o = { frame: 'FK5/2000', projection: 'SIN' as const, pixelArcsec: null, maxCanvasPixels: 2e8 };
    expect(splitToFit(inputs, { ...o, memoryMaxBytes: 32 * GIB })).toHaveLength(1);
    // The whole segment needs ≈ 1.56 GiB, half of it ≈ 1.1 GiB, one tile ≈ 0.7 GiB.
    const parts = splitToFit(inputs, { ...o, memoryMaxBytes: 1.2 * GIB })!;
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.flatMap((p) => p.inputs)).toEqual(inputs);
    for (const p of parts) {
      expect(p.estMemoryBytes).toBeLessThanOrEqual(1.2 * GIB);
      expect(p.grid.pixel_arcsec).toBe(2.5);
    }
    expect(splitToFit(inputs, { ...o, memoryMaxBytes: 0.6 * GIB })).toBeNull();
    expect(
      splitToFit(inputs, { ...o, memoryMaxBytes: 32 * GIB, maxCanvasPixels: 5040 * 5040 - 1 }),
    ).toBeNull();
  });
});

describe('planMosaics', () => {
  const seg = (h: number) => D + h * 3_600_000;

  it('science: one unit per segment of the day with overlap images from the previous one', () => {
    const cands = Array.from({ length: 24 }, (_, i) => cand(i, { obsMidMs: seg(10) + 60_000 + i * CAD }));
    const r = planMosaics(cands, settings(), NOW);
    expect(r.units.map((u) => [u.baseName, u.inputs.length])).toEqual([
      ['science_d+55.6_20251205T1000_1100', 12],
      ['science_d+55.6_20251205T1100_1200', 14],
    ]);
    // The second segment starts with the first one's last two images.
    expect(r.units[1]!.inputs.slice(0, 2).map((i) => i.path)).toEqual(
      r.units[0]!.inputs.slice(-2).map((i) => i.path),
    );
    expect(r.rejected).toEqual({});
  });

  it('quicklook: a tile is planned once complete, with (newImages + overlapImages) images', () => {
    const step = 8 * CAD;
    const t0 = Math.ceil(seg(10) / step) * step;
    const cands = Array.from({ length: 14 }, (_, i) => cand(i, { obsMidMs: t0 + CAD / 2 + i * CAD }));
    const ql = settings({
      tier: 'quicklook',
      rules: {
        minImages: 5,
        maxImages: 10,
        noiseMaxJy: 0.01,
        newImages: 8,
        overlapImages: 2,
        maxSpanS: 3600,
      },
    });
    const early = planMosaics(cands.slice(0, 9), ql, t0 + 9 * CAD);
    expect(early.units).toEqual([]);
    const r = planMosaics(cands, ql, t0 + 14 * CAD);
    expect(r.units).toHaveLength(1);
    expect(r.units[0]!.inputs.map((i) => i.path)).toEqual(cands.slice(0, 10).map((c) => c.path));
    // The next tile shares two images and is due once eight more follow.
    const more = Array.from({ length: 20 }, (_, i) => cand(i, { obsMidMs: t0 + CAD / 2 + i * CAD }));
    const r2 = planMosaics(more, ql, t0 + 20 * CAD);
    expect(r2.units.map((u) => u.inputs[0]!.path)).toEqual([more[0]!.path, more[8]!.path]);
  });

  it('an image waiting for metadata holds its window back', () => {
    const cands = Array.from({ length: 12 }, (_, i) =>
      cand(i, i === 5 ? { hasMetadata: false, registeredAtMs: NOW - 1000 } : {}),
    );
    const r = planMosaics(cands, settings(), NOW);
    expect(r.units).toEqual([]);
    expect(r.waiting).toBe(1);
  });

  it('a window whose images were all rejected is an empty unit with the counts', () => {
    const cands = Array.from({ length: 6 }, (_, i) => cand(i, { noiseJy: 0.02 }));
    const r = planMosaics(cands, settings(), NOW);
    expect(r.units).toHaveLength(1);
    expect(r.units[0]).toMatchObject({ status: 'empty', inputs: [], rejected: { noise: 6 }, grid: null });
  });

  it('two images of one measurement set: the newest registration is used', () => {
    const cands = Array.from({ length: 6 }, (_, i) => cand(i));
    const again = cand(2, {
      imageId: 99,
      path: '/data/img/o2b.image.fits',
      registeredPath: '/data/img/o2b.image.fits',
    });
    const r = planMosaics([...cands, again], settings(), NOW);
    expect(r.units[0]!.inputs.map((i) => i.imageId)).toContain(99);
    expect(r.units[0]!.inputs.map((i) => i.imageId)).not.toContain(3);
    expect(r.rejected).toEqual({ duplicate_ms: 1 });
  });

  it('a tile in another frame is rejected `frame` (the majority frame wins)', () => {
    const cands = Array.from({ length: 7 }, (_, i) => cand(i, i === 3 ? { frame: 'FK4/1950' } : {}));
    const r = planMosaics(cands, settings(), NOW);
    expect(r.units[0]!.frame).toBe('FK5/2000');
    expect(r.units[0]!.inputs).toHaveLength(6);
    expect(r.units[0]!.rejected).toEqual({ frame: 1 });
  });

  it('a unit too large for memoryMaxGb is split in RA, or grid_too_large when one image does not fit', () => {
    const cands = Array.from({ length: 12 }, (_, i) => cand(i));
    const split = planMosaics(cands, settings({ memoryMaxBytes: 1.2 * GIB }), NOW);
    expect(split.units.length).toBeGreaterThan(1);
    expect(split.units.map((u) => u.baseName)).toEqual(
      split.units.map((_, i) => `science_d+55.6_20251205T1000_1100_p${i + 1}`),
    );
    const refused = planMosaics(cands, settings({ memoryMaxBytes: 0.6 * GIB }), NOW);
    expect(refused.units.map((u) => [u.status, u.grid, u.inputs.length])).toEqual([
      ['grid_too_large', null, 12],
    ]);
  });

  it('deep: the RA box of the request over several nights, the quietest maxImages', () => {
    const night = (n: number, i: number) =>
      cand(n * 100 + i, {
        obsMidMs: D + n * 86_164_000 + 36_000_000 + i * CAD,
        raDeg: 150 + i * 1.291,
        noiseJy: 0.0001 * (1 + n),
      });
    const cands = [0, 1, 2].flatMap((n) => Array.from({ length: 8 }, (_, i) => night(n, i)));
    const deep = settings({
      tier: 'deep',
      rules: { minImages: 10, maxImages: 15, noiseMaxJy: 0.0005 },
      window: { fromMs: D, toMs: D + 3 * 86_400_000 },
      stripDeg: 55.6,
      deep: { raMinDeg: 151, raMaxDeg: 158, label: 'box' },
    });
    const r = planMosaics(cands, deep, NOW + 3 * 86_400_000);
    expect(r.units).toHaveLength(1);
    const u = r.units[0]!;
    expect(u.baseName).toBe('deep_box_151.0-158.0_20251205-20251207');
    // RA 151–158: images 1..6 of each night (18); the 15 quietest are nights 0 and 1 and three of night 2.
    expect(u.inputs).toHaveLength(15);
    expect(u.rejected).toEqual({ noise: 3 });
    expect(u.inputs.every((i) => i.raDeg >= 151 && i.raDeg <= 158)).toBe(true);
  });
});
