// Beam, meridian geometry, UT1−UTC provider and calibrator parsers: table-driven.
import { describe, expect, it } from 'vitest';
import {
  airyFwhmDeg,
  airyResponse,
  beamCrossingHalfWidthS,
  besselJ1,
  BUILTIN_CALIBRATORS,
  constantDut1,
  decToElevation,
  elevationAtTransitDeg,
  elevationToDec,
  iersDut1,
  isObservable,
  parseCalibratorCsv,
  parseFinals2000A,
  parseUtc,
  parseVlaCalibratorText,
} from '../../../lib/astro/index.js';

describe('Airy beam', () => {
  it.each([
    [0.5, 0.2422684577],
    [1.0, 0.4400505857],
    [3.0, 0.3390589585],
    [10.0, 0.0434727462],
  ])('J1(%f)', (x, v) => expect(besselJ1(x)).toBeCloseTo(v, 7));

  it('FWHM is 2.706° for 4.65 m at 1.405 GHz and the response is 0.5 at half of it', () => {
    expect(airyFwhmDeg()).toBeCloseTo(2.706, 3);
    expect(airyResponse(airyFwhmDeg() / 2)).toBeCloseTo(0.5, 6);
  });

  it.each([
    [0, 1],
    [0.25, 0.98],
    [0.5, 0.91],
    [1.35, 0.5],
  ])('response at %f° ≈ %f (the true Airy, not the original catalogs.py curve)', (off, r) => {
    expect(airyResponse(off)).toBeCloseTo(r, 1);
  });

  it.each([
    [30.5092, 30.5092, 376],
    [16.27, 16.6394, 325],
    [50.5, 49.852, 441],
    [54.5734, 55.5725, 386],
  ])('half-power crossing at pointing %f for source %f ≈ ±%d s (research table, ±2%%)', (p, s, hw) => {
    expect(Math.abs(beamCrossingHalfWidthS(p, s) - hw)).toBeLessThan(0.02 * hw);
  });

  it('a source outside the half-power beam never crosses it', () => {
    expect(beamCrossingHalfWidthS(54.5734, 30.5092)).toBe(0);
  });
});

describe('meridian geometry', () => {
  it('reports north-of-zenith culminations and the operator convention', () => {
    expect(elevationAtTransitDeg(54.5734, 37.2314)).toEqual({
      elevationDeg: expect.closeTo(72.658, 3),
      northOfZenith: true,
      operatorElevationDeg: expect.closeTo(107.342, 3),
    });
    expect(elevationAtTransitDeg(16.27, 37.2314).northOfZenith).toBe(false);
    expect(elevationToDec(decToElevation(12.3, 37.2314), 37.2314)).toBeCloseTo(12.3, 12);
  });

  it.each([
    [-22.7, true],
    [-23, false],
    [72.2, true],
    [72.3, false],
  ])('dec %f observable: %s (el 30–125°)', (dec, ok) => expect(isObservable(dec, 37.2314)).toBe(ok));
});

const finalsLine = (
  y: number,
  m: number,
  d: number,
  mjd: number,
  flag: string,
  a: number,
  b?: number,
): string => {
  let s = `${String(y % 100).padStart(2)}${String(m).padStart(2)}${String(d).padStart(2)} ${mjd.toFixed(2).padStart(8)}`;
  s = s.padEnd(57) + flag + a.toFixed(7).padStart(10) + '0.0000100'.padStart(10);
  if (b !== undefined) s = s.padEnd(154) + b.toFixed(7).padStart(11);
  return s;
};

describe('UT1−UTC provider', () => {
  it('constant: value everywhere, no age, rejects |dut1| ≥ 1 s', () => {
    const p = constantDut1(0.12);
    expect(p.valueAt(0)).toBe(0.12);
    expect(p.ageDays(0)).toBeNull();
    expect(() => constantDut1(1.2)).toThrow(/±1 s/);
  });

  it('finals2000A: interpolates, handles a leap second, reports age and falls back outside', () => {
    const text = [
      finalsLine(16, 12, 30, 57752, 'I', 0.4, 0.41),
      finalsLine(16, 12, 31, 57753, 'I', 0.4, 0.4),
      finalsLine(17, 1, 1, 57754, 'I', -0.6, -0.6),
      finalsLine(17, 1, 2, 57755, 'P', -0.61),
      '17 1 3 57756.00                                                    ',
    ].join('\n');
    const rows = parseFinals2000A(text);
    expect(rows.map((r) => r.mjd)).toEqual([57752, 57753, 57754, 57755]);
    expect(rows[0].dut1S).toBe(0.41);
    expect(rows[3].predicted).toBe(true);
    const p = iersDut1(rows, 0.05);
    expect(p.valueAt(parseUtc('2016-12-30T12:00:00Z'))).toBeCloseTo(0.405, 9);
    // Across the leap second: the day before interpolates towards -0.6 + 1 = 0.4.
    expect(p.valueAt(parseUtc('2016-12-31T12:00:00Z'))).toBeCloseTo(0.4, 9);
    expect(p.valueAt(parseUtc('2017-01-01T12:00:00Z'))).toBeCloseTo(-0.605, 9);
    expect(p.covers(parseUtc('2018-01-01T00:00:00Z'))).toBe(false);
    expect(p.valueAt(parseUtc('2018-01-01T00:00:00Z'))).toBe(0.05);
    expect(p.ageDays(parseUtc('2017-01-11T00:00:00Z'))).toBeCloseTo(10, 9);
  });
});

describe('calibrators', () => {
  it('built-in list: one 3C286, J0834+555 at the corrected position', () => {
    expect(
      BUILTIN_CALIBRATORS.filter((c) => c.name === '3C286' || c.altNames.includes('J1331+3030')),
    ).toHaveLength(1);
    const j = BUILTIN_CALIBRATORS.find((c) => c.name === 'J0834+555');
    expect([j?.raDeg, j?.decDeg]).toEqual([128.7287, 55.5725]);
  });

  it('parses the VLA manual format with 20 cm flux', () => {
    const text = [
      'IAU NAME  EPOCH  RA           DEC             POSN  ALT.NAME',
      '=============================================================',
      '1331+305   J2000  A 13h31m08.288060s  30d30\'32.958850"  Aug01  3C286',
      '1328+307   B1950  A 13h28m49.657700s  30d45\'58.640000"',
      '-----------------------------------------------------',
      'BAND        A B C D    FLUX(Jy)    UVMIN(kL)  UVMAX(kL)',
      '=====================================================',
      ' 90cm    P  X X X S      26.00',
      ' 20cm    L  P P P P      15.00',
      '1924-292   J2000  A 19h24m51.055955s  -29d14\'30.121150"  Aug01',
      '  6cm    C  S S S S       9.00',
    ].join('\n');
    const cals = parseVlaCalibratorText(text);
    expect(cals).toHaveLength(2);
    expect(cals[0]).toMatchObject({ name: 'J1331+305', fluxJy: 15, altNames: ['3C286'], catalog: 'vla' });
    expect(cals[0].raDeg).toBeCloseTo(202.784534, 5);
    expect(cals[0].decDeg).toBeCloseTo(30.509155, 5);
    expect(cals[1]).toMatchObject({ name: 'J1924-292', fluxJy: null });
    expect(cals[1].decDeg).toBeCloseTo(-29.2417, 5);
  });

  it('parses CSV and rejects impossible positions', () => {
    expect(parseCalibratorCsv('name,ra,dec,flux\nX,10,20,3\n# c\nY,11,-5')).toEqual([
      { name: 'X', raDeg: 10, decDeg: 20, fluxJy: 3, altNames: [], catalog: 'manual' },
      { name: 'Y', raDeg: 11, decDeg: -5, fluxJy: null, altNames: [], catalog: 'manual' },
    ]);
    expect(() => parseCalibratorCsv('Z,400,0')).toThrow(/bad position/);
  });
});
