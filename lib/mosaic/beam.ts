// The primary beam of a DSA-110 dish for mosaicking (J1 and the FWHM are lib/astro/beam's): the Airy power pattern of a uniformly illuminated circular aperture,
// A(θ) = (2 J1(x)/x)², x = π D sin θ / λ, centred on the tile's pointing and averaged over the RA the sky
// drifted through during the observation (a drift scan: the beam moves along the strip at fixed declination).
import { airyFwhmDeg, besselJ1 } from '../astro/beam.js';

const D2R = Math.PI / 180;
const SPEED_OF_LIGHT = 299_792_458;

/** (2 J1(x)/x)², 1 at x = 0. */
export function airyPower(x: number): number {
  if (Math.abs(x) < 1e-4) return 1 - (x * x) / 4;
  const a = (2 * besselJ1(x)) / x;
  return a * a;
}

/** The beam's FWHM, degrees; 180 for a dish too small (≲ 0.5 λ) to have a half-power point at all. */
export function beamFwhmDeg(dishM: number, freqHz: number): number {
  const f = airyFwhmDeg({ dishM, freqHz });
  return Number.isFinite(f) ? f : 180;
}

export interface BeamSpec {
  dishM: number;
  freqHz: number;
  /** The pointing at mid-observation, degrees. */
  pointing: { ra: number; dec: number };
  /** RA drifted through during the observation, degrees (0: no smearing). */
  smearRaDeg: number;
}

/**
 * Drift samples: the midpoint rule over the smear with a step of at most FWHM/16. Against 1024 samples its
 * error is below 3e-4 in A wherever A ≥ 0.05 (test/unit/mosaic/mbuild-beam.test.ts); FWHM/8 would give 1e-3.
 * The beam is evaluated only at the coarse WCS nodes (every 16th canvas pixel), so samples are cheap: the
 * 1.291° DSA-110 drift at 1.405 GHz (FWHM 2.71°) takes 8.
 */
export function smearSamples(b: BeamSpec): number {
  if (b.smearRaDeg <= 0) return 1;
  return Math.max(2, Math.ceil(b.smearRaDeg / (beamFwhmDeg(b.dishM, b.freqHz) / 16)));
}

/** A beam evaluator: (RA, Dec) degrees → the drift-averaged power response at that sky position. */
export type Beam = (raDeg: number, decDeg: number) => number;

/** The drift-averaged Airy beam of one tile; `samples` overrides smearSamples (for tests). */
export function makeBeam(b: BeamSpec, samples = smearSamples(b)): Beam {
  const k = (Math.PI * b.dishM * b.freqHz) / SPEED_OF_LIGHT;
  const dec0 = b.pointing.dec * D2R;
  const [sd0, cd0] = [Math.sin(dec0), Math.cos(dec0)];
  // Unit vectors of the drift samples, spread evenly over [−smear/2, +smear/2] about the mid RA.
  const px = new Float64Array(samples);
  const py = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const off = samples === 1 ? 0 : b.smearRaDeg * ((i + 0.5) / samples - 0.5);
    const ra = (b.pointing.ra + off) * D2R;
    px[i] = cd0 * Math.cos(ra);
    py[i] = cd0 * Math.sin(ra);
  }
  const pz = sd0;
  return (raDeg, decDeg) => {
    const ra = raDeg * D2R;
    const dec = decDeg * D2R;
    const cd = Math.cos(dec);
    const qx = cd * Math.cos(ra);
    const qy = cd * Math.sin(ra);
    const qz = Math.sin(dec);
    let sum = 0;
    for (let i = 0; i < samples; i++) {
      const dot = px[i] * qx + py[i] * qy + pz * qz;
      if (dot <= 0) continue; // behind the dish
      // sin θ = |p × q|
      const cx = py[i] * qz - pz * qy;
      const cy = pz * qx - px[i] * qz;
      const cz = px[i] * qy - py[i] * qx;
      sum += airyPower(k * Math.sqrt(cx * cx + cy * cy + cz * cz));
    }
    return sum / samples;
  };
}
