// The builder's celestial WCS: known values of each zenithal projection, pixel → sky → pixel round trips,
// AZP against its special cases and the real Parkes AZP header, and the headers it refuses.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHeaderText } from '../../../lib/fits/header.js';
import { formatCard } from '../../../lib/fits/write.js';
import type { WcsError } from '../../../lib/mosaic/wcs.js';
import {
  gridWcs,
  pixelToWorld,
  wcsFromHeader,
  worldToPixel,
  type CelestialWcs,
  type Projection,
} from '../../../lib/mosaic/wcs.js';
import { SHARED_DATA } from '../../helpers/tmp.js';

const D2R = Math.PI / 180;
const v = (): Float64Array => new Float64Array(2);

function header(cards: [string, string | number][]): ReturnType<typeof parseHeaderText> {
  return parseHeaderText(cards.map(([k, x]) => formatCard(k, x)).join('') + formatCard('END', null));
}

function fileHeader(name: string): ReturnType<typeof parseHeaderText> {
  return parseHeaderText(fs.readFileSync(path.join(SHARED_DATA, 'fits', name)).toString('latin1'));
}

/** Great-circle distance, degrees (haversine: exact for tiny separations). */
function sep(ra1: number, d1: number, ra2: number, d2: number): number {
  const h =
    Math.sin(((d2 - d1) * D2R) / 2) ** 2 +
    Math.cos(d1 * D2R) * Math.cos(d2 * D2R) * Math.sin(((ra2 - ra1) * D2R) / 2) ** 2;
  return (2 * Math.asin(Math.sqrt(h))) / D2R;
}

const wcsOf = (projection: Projection, dec: number, cdelt = 0.01): CelestialWcs => ({
  projection,
  crpix: [101, 101],
  crval: [200, dec],
  cd: [-cdelt, 0, 0, cdelt],
  lonpole: 180,
  azp: projection === 'AZP' ? { mu: 2, gammaDeg: 30 } : undefined,
});

describe('zenithal projections: known distances from the reference point', () => {
  // A pixel n steps north of the reference point lies at native radius R = n·cdelt (degrees); its distance
  // from the reference point θ' = 90° − θ follows from each projection's R(θ).
  const r = 30 * 0.5; // 30 px of 0.5° = 15° of projection-plane radius
  const expected: Record<Exclude<Projection, 'AZP'>, number> = {
    SIN: Math.asin(r * D2R) / D2R,
    TAN: Math.atan(r * D2R) / D2R,
    ARC: r,
    STG: (2 * Math.atan((r * D2R) / 2)) / D2R,
    ZEA: (2 * Math.asin((r * D2R) / 2)) / D2R,
  };
  it.each(Object.entries(expected))('%s', (proj, dist) => {
    const w = wcsOf(proj as Projection, 20, 0.5);
    const out = pixelToWorld(w, 100, 130, v());
    expect(sep(out[0], out[1], 200, 20)).toBeCloseTo(dist, 9);
    expect(out[0]).toBeCloseTo(200, 9); // due north keeps the RA
    expect(out[1]).toBeGreaterThan(20);
  });

  it('east is to the left (CDELT1 < 0): RA grows as x falls', () => {
    const w = wcsOf('SIN', 55.57);
    expect(pixelToWorld(w, 90, 100, v())[0]).toBeGreaterThan(200);
    expect(pixelToWorld(w, 110, 100, v())[0]).toBeLessThan(200);
  });

  it('AZP with mu = 0 and no tilt is TAN', () => {
    const azp: CelestialWcs = { ...wcsOf('AZP', 40, 0.2), azp: { mu: 0, gammaDeg: 0 } };
    const tan = wcsOf('TAN', 40, 0.2);
    for (const [x, y] of [
      [0, 0],
      [37, 180],
      [150, 20],
    ]) {
      const a = pixelToWorld(azp, x, y, v());
      const b = pixelToWorld(tan, x, y, v());
      expect(sep(a[0], a[1], b[0], b[1])).toBeLessThan(1e-9);
    }
  });
});

describe('round trips pixel → sky → pixel', () => {
  it.each(['SIN', 'TAN', 'ARC', 'STG', 'ZEA', 'AZP'] as Projection[])(
    '%s at +55.57° and near the poles',
    (p) => {
      for (const dec of [55.57, -37.4, 89.5, -89.9]) {
        const w = wcsOf(p, dec);
        let worst = 0;
        for (let y = -50; y <= 250; y += 17) {
          for (let x = -50; x <= 250; x += 19) {
            const s = pixelToWorld(w, x, y, v());
            if (Number.isNaN(s[1])) continue;
            const back = worldToPixel(w, s[0], s[1], v());
            worst = Math.max(worst, Math.hypot(back[0] - x, back[1] - y));
          }
        }
        expect(worst, `${p} at ${dec}`).toBeLessThan(1e-7);
      }
    },
  );

  it('the far side of a SIN or TAN plane has no pixel', () => {
    const w = wcsOf('SIN', 0);
    expect(worldToPixel(w, 20, 0, v())[0]).toBeNaN();
    expect(worldToPixel(wcsOf('TAN', 0), 200 + 91, 0, v())[0]).toBeNaN();
  });
});

describe('headers', () => {
  it('reads the AIPS SIN header of ngc1316r.fit (CRVAL at CRPIX)', () => {
    const w = wcsFromHeader(fileHeader('ngc1316r.fit'));
    expect(w.projection).toBe('SIN');
    const s = pixelToWorld(w, w.crpix[0] - 1, w.crpix[1] - 1, v());
    expect(s[0]).toBeCloseTo(50.1966661513, 9);
    expect(s[1]).toBeCloseTo(-37.3856168315, 9);
  });

  it('reads the tilted AZP of the Parkes map: its reference point is the south pole, round trips hold', () => {
    const w = wcsFromHeader(fileHeader('parkes-1904-66_AZP.fits'));
    expect(w.projection).toBe('AZP');
    expect(w.azp).toEqual({ mu: 2, gammaDeg: 30 });
    const pole = pixelToWorld(w, w.crpix[0] - 1, w.crpix[1] - 1, v());
    expect(pole[1]).toBeCloseTo(-90, 9);
    // The map is of the field around 19h04m −66° (its name); its centre must land there.
    const c = pixelToWorld(w, 95.5, 95.5, v());
    expect(sep(c[0], c[1], 286, -66)).toBeLessThan(3);
    for (const [x, y] of [
      [0, 0],
      [191, 0],
      [0, 191],
      [191, 191],
      [95.5, 95.5],
    ]) {
      const s = pixelToWorld(w, x, y, v());
      const b = worldToPixel(w, s[0], s[1], v());
      expect(Math.hypot(b[0] - x, b[1] - y)).toBeLessThan(1e-7);
    }
  });

  it('refuses what it cannot map, with the kind of refusal', () => {
    const base: [string, string | number][] = [
      ['CRVAL1', 10],
      ['CRVAL2', 10],
      ['CDELT1', -0.01],
      ['CDELT2', 0.01],
    ];
    const kind = (cards: [string, string | number][]): string => {
      try {
        wcsFromHeader(header([...base, ...cards]));
        return 'ok';
      } catch (e) {
        return (e as WcsError).kind;
      }
    };
    expect(
      kind([
        ['CTYPE1', 'RA---CAR'],
        ['CTYPE2', 'DEC--CAR'],
      ]),
    ).toBe('unsupported_projection');
    expect(
      kind([
        ['CTYPE1', 'RA---SIN'],
        ['CTYPE2', 'DEC--SIN'],
        ['PV2_2', 0.5],
      ]),
    ).toBe('unsupported_projection');
    expect(
      kind([
        ['CTYPE1', 'FREQ'],
        ['CTYPE2', 'DEC--SIN'],
      ]),
    ).toBe('not_celestial');
    expect(
      kind([
        ['CTYPE1', 'RA---TAN'],
        ['CTYPE2', 'DEC--TAN'],
      ]),
    ).toBe('ok');
    expect(
      kind([
        ['CTYPE1', 'RA---SIN'],
        ['CTYPE2', 'DEC--SIN'],
        ['CD1_1', 0],
        ['CD2_2', 0],
      ]),
    ).toBe('not_celestial');
  });

  it('CROTA2 rotates the pixel axes as AIPS defines it', () => {
    const w = wcsFromHeader(
      header([
        ['CTYPE1', 'RA---TAN'],
        ['CTYPE2', 'DEC--TAN'],
        ['CRPIX1', 1],
        ['CRPIX2', 1],
        ['CRVAL1', 0],
        ['CRVAL2', 0],
        ['CDELT1', -0.001],
        ['CDELT2', 0.001],
        ['CROTA2', 90],
      ]),
    );
    // CD1_2 = −CDELT2 sin ρ (Calabretta & Greisen 2002, eq. 188): +y, north without rotation, turns to
    // intermediate −x (west, RA falls) at ρ = 90°.
    const s = pixelToWorld(w, 0, 100, v());
    expect(s[1]).toBeCloseTo(0, 6);
    expect(s[0]).toBeCloseTo(359.9, 4);
  });

  it('the grid WCS puts the centre at the middle of the canvas', () => {
    const g = gridWcs({
      projection: 'SIN',
      center: { ra: 120, dec: 55.57 },
      pixel_arcsec: 10,
      nx: 101,
      ny: 50,
    });
    const s = pixelToWorld(g, 50, 24.5, v());
    expect(s[0]).toBeCloseTo(120, 10);
    expect(s[1]).toBeCloseTo(55.57, 10);
  });
});
