// The Airy primary beam: Bessel values, the half-power point and first null, drift averaging and how many
// drift samples the builder needs.
import { describe, expect, it } from 'vitest';
import { airyFwhmDeg, besselJ1 } from '../../../lib/astro/beam.js';
import { airyPower, beamFwhmDeg, makeBeam, smearSamples } from '../../../lib/mosaic/beam.js';

const AIRY_HALF_X = 1.616339948;
const SPEED_OF_LIGHT = 299_792_458;

describe('Bessel J1 and the Airy power pattern', () => {
  it.each([
    [0.5, 0.2422684577],
    [1, 0.4400505857],
    [2, 0.5767248078],
    [5, -0.3275791376],
    [10, 0.0434727462],
    [20, 0.0668331242],
  ])('J1(%f) = %f', (x, j) => {
    expect(besselJ1(x)).toBeCloseTo(j, 7);
    expect(besselJ1(-x)).toBeCloseTo(-j, 7);
  });

  it('is 1 on axis, 1/2 at the half-power point, 0 at the first null (x = 3.8317)', () => {
    expect(airyPower(0)).toBe(1);
    expect(airyPower(1e-6)).toBeCloseTo(1, 12);
    expect(airyPower(AIRY_HALF_X)).toBeCloseTo(0.5, 7);
    expect(airyPower(3.83170597)).toBeLessThan(1e-14);
    expect(airyPower(5.1356)).toBeCloseTo(0.0175, 4); // first sidelobe peak, −17.6 dB
  });

  it('DSA-110 at 1.405 GHz: a 4.65 m dish has a 2.71° FWHM', () => {
    expect(airyFwhmDeg({ dishM: 4.65, freqHz: 1.405e9 })).toBeCloseTo(2.706, 3);
    // 1.03 λ/D, the textbook rule
    expect(airyFwhmDeg({ dishM: 4.65, freqHz: 1.405e9 })).toBeCloseTo(
      ((1.029 * SPEED_OF_LIGHT) / 1.405e9 / 4.65) * (180 / Math.PI),
      2,
    );
  });
});

describe('the drift-averaged beam of a tile', () => {
  it('a dish too small for a half-power point counts as a 180° beam (no NaN reaches the node step)', () => {
    expect(beamFwhmDeg(0.02, 1.42e9)).toBe(180);
    expect(beamFwhmDeg(4.65, 1.405e9)).toBeCloseTo(2.706, 3);
    expect(
      smearSamples({ dishM: 0.02, freqHz: 1.42e9, pointing: { ra: 0, dec: 0 }, smearRaDeg: 1.291 }),
    ).toBe(2);
  });

  const spec = { dishM: 4.65, freqHz: 1.405e9, pointing: { ra: 100, dec: 55.57 }, smearRaDeg: 1.291 };

  it('without drift it is the Airy pattern of the angular distance', () => {
    const b = makeBeam({ ...spec, smearRaDeg: 0 });
    expect(b(100, 55.57)).toBeCloseTo(1, 12);
    // 1° due north: x = π D sin(1°)/λ
    const x = (Math.PI * 4.65 * Math.sin(Math.PI / 180)) / (SPEED_OF_LIGHT / 1.405e9);
    expect(b(100, 56.57)).toBeCloseTo(airyPower(x), 10);
    expect(b(280, -55.57)).toBe(0); // behind the dish
  });

  it('the drift (1.291° of RA, 0.73° on the sky at +55.57°) lowers the peak and widens the beam along RA', () => {
    const b = makeBeam(spec);
    const still = makeBeam({ ...spec, smearRaDeg: 0 });
    expect(b(100, 55.57)).toBeLessThan(0.99);
    expect(b(100, 55.57)).toBeGreaterThan(0.97);
    // along Dec the profile falls as the unsmeared one does, only scaled by the lower peak
    expect(b(100, 56.57) / b(100, 55.57)).toBeLessThan(still(100, 56.57) * 1.02);
    const east = 1 / Math.cos((55.57 * Math.PI) / 180); // 1° on the sky in RA
    expect(b(100 + east, 55.57) / b(100, 55.57)).toBeGreaterThan(still(100 + east, 55.57));
  });

  it(`${smearSamples(spec)} drift samples at DSA-110's 1.291°: within 3e-4 of 1024 samples wherever A ≥ 0.05`, () => {
    for (const freqHz of [1.28e9, 1.405e9, 1.53e9]) {
      const s = { ...spec, freqHz };
      const used = makeBeam(s);
      const truth = makeBeam(s, 1024);
      let worst = 0;
      for (let dra = -6; dra <= 6; dra += 0.1) {
        for (let dd = -3; dd <= 3; dd += 0.1) {
          const t = truth(100 + dra, 55.57 + dd);
          if (t >= 0.05) worst = Math.max(worst, Math.abs(used(100 + dra, 55.57 + dd) - t));
        }
      }
      expect(worst, `${freqHz} Hz`).toBeLessThan(3e-4);
    }
    expect(smearSamples(spec)).toBe(8);
    expect(smearSamples({ ...spec, smearRaDeg: 0 })).toBe(1);
  });
});
