// Header metadata on the WSClean-like simulated header and the real files.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerMetadata, writeFitsImage, type HeaderCard } from '../../../lib/fits/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { makeTmpDir, removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';

let dir: string;
beforeAll(() => (dir = makeTmpDir('fits-meta-')));
afterAll(() => removeTmpDir(dir));

const real = (f: string): string => path.join(SHARED_DATA, 'fits', f);

/** A 4×4 all-zero image whose header carries `cards`: the tests here only read headers. */
function cardsOnly(name: string, cards: HeaderCard[]): string {
  const p = path.join(dir, name);
  writeFitsImage({ path: p, bitpix: -32, axes: [4, 4], cards, row: () => new Float32Array(4) });
  return p;
}

describe('extractMetadata', () => {
  it('WSClean-like header: beam in arcsec, freq from the FREQ axis, bandwidth = |CDELT3|, RA/Dec, WSC block', () => {
    const p = writeSimulatedImage({
      dir,
      name: 'wsc',
      nx: 64,
      ny: 64,
      seed: 2,
      beamPix: [4, 3, 30],
      cellDeg: 0.001,
      freqHz: 1.4e9,
      bandwidthHz: 1.875e8,
    });
    const m = headerMetadata(p);
    expect(m.beamMajorArcsec).toBeCloseTo(4 * 0.001 * 3600, 9);
    expect(m.beamMinorArcsec).toBeCloseTo(3 * 0.001 * 3600, 9);
    expect(m.bpaDeg).toBe(30);
    expect(m.beamSource).toBe('keywords');
    expect(m.freqHz).toBe(1.4e9);
    expect(m.bandwidthHz).toBe(1.875e8);
    expect([m.raDeg, m.decDeg]).toEqual([128.7287, 55.5725]);
    expect([m.glonDeg, m.glatDeg]).toEqual([null, null]);
    expect(m.cellsizeArcsec).toBeCloseTo(3.6, 9);
    expect(m.dateObs).toBe('2026-01-01T00:00:00.000Z');
    expect(m.wsc).toMatchObject({ WSCIMGWG: 12345.6, WSCWEIGH: 'Briggs(0)' });
    expect(m.naxis).toEqual([64, 64, 1, 1]);
  });

  it('Parkes: RESTFRQ fills restfreq; JY/BEAM; beam from BMAJ/BMIN', () => {
    const m = headerMetadata(real('parkes-1904-66_AZP.fits'));
    expect(m.restfreqHz).toBeGreaterThan(1e9);
    expect(m.bunit).toBe('JY/BEAM');
    expect(m.beamMajorArcsec).toBeCloseTo(0.24 * 3600, 3);
    expect(m.raDeg).toBe(0);
    expect(m.decDeg).toBe(-90);
  });

  it('GILDAS cube: RESTFREQ fills restfreq', () => {
    const m = headerMetadata(real('gildas-example_cube.fits'));
    expect(m.restfreqHz).toBeGreaterThan(1e9);
    expect(m.naxis).toEqual([3, 4, 7, 1]);
  });

  it('Galactic axes go to glon/glat, never ra/dec; a non-ISO DATE-OBS is kept raw with a null ISO field', () => {
    const p = cardsOnly('gal.fits', [
      ['CTYPE1', 'GLON-SIN'],
      ['CRVAL1', 30.5],
      ['CTYPE2', 'GLAT-SIN'],
      ['CRVAL2', -0.25],
      ['DATE-OBS', '19930417'],
      ['CTYPE3', 'LAMBDA'],
    ]);
    const m = headerMetadata(p);
    expect([m.raDeg, m.decDeg]).toEqual([null, null]);
    expect([m.glonDeg, m.glatDeg]).toEqual([30.5, -0.25]);
    expect(m.dateObsRaw).toBe('19930417');
    expect(m.dateObs).toBeNull();
    expect(m.freqHz).toBeNull();
  });

  it('AIPS: the beam comes from the last CLEAN HISTORY line (degrees); CONVL lines (arcsec) are ignored', () => {
    const p = cardsOnly('aips.fits', [
      ['HISTORY', 'AIPS   CLEAN BMAJ=  1.0000E-03 BMIN=  5.0000E-04 BPA=  10.00'],
      ['HISTORY', 'AIPS   CLEAN BMAJ=  2.0000E-03 BMIN=  1.0000E-03 BPA= -45.50'],
      ['HISTORY', 'CONVL BMAJ=  30.0000 BMIN=  20.0000 BPA=  0.00'],
    ]);
    const m = headerMetadata(p);
    expect(m.beamSource).toBe('aips-history');
    expect([m.bmajDeg, m.bminDeg, m.bpaDeg]).toEqual([2e-3, 1e-3, -45.5]);
    expect(m.beamMajorArcsec).toBeCloseTo(7.2, 9);
  });

  it('ngc1316r (a real AIPS map): the beam comes from its last AIPS CLEAN HISTORY line', () => {
    const m = headerMetadata(real('ngc1316r.fit'));
    expect(m.bitpix).toBe(16);
    expect(m.naxis).toEqual([440, 300]);
    expect(m.beamSource).toBe('aips-history');
    expect([m.bmajDeg, m.bminDeg, m.bpaDeg]).toEqual([3.8889e-3, 3.8889e-3, 0]);
  });
});
