import { describe, expect, it } from 'vitest';
import {
  frameKey,
  MosaicContractError,
  mosaicPaths,
  parseManifest,
  parseResult,
  type MosaicManifest,
} from '../../../lib/mosaic/manifest.js';

function manifest(): MosaicManifest {
  return {
    version: 1,
    plan_id: 7,
    name: 'quicklook_d+55.6_20251205T0310_0400',
    tier: 'quicklook',
    inputs_hash: 'a'.repeat(64),
    inputs: [
      {
        path: '/data/images/2025-12-05T03:10:00.image.fits',
        size: 1234,
        mtime_ns: '1764904200123456789',
        ino: 42,
        obs_mid_utc: '2025-12-05T03:12:34.500Z',
        ra_deg: 120.5,
        dec_deg: 55.57,
        noise_jy: 0.001,
        kind: 'image',
        pb: {
          model: 'airy',
          dish_m: 4.65,
          freq_hz: 1.405e9,
          pointing: { ra: 120.5, dec: 55.57 },
          smear_ra_deg: 1.291,
        },
      },
    ],
    grid: {
      frame: 'FK5/2000',
      projection: 'SIN',
      center: { ra: 121, dec: 55.57 },
      pixel_arcsec: 2.5,
      nx: 4000,
      ny: 3000,
    },
    weighting: { scheme: 'pb2_over_var', pb_cutoff: 0.2 },
    interpolation: 'nearest',
    outputs: { fits: '/out/q.fits', weights: '/out/q.weights.fits' },
    limits: { timeout_s: 300, memory_bytes: 2 ** 31 },
    result_path: '/out/q.result.json',
  };
}

describe('mosaic manifest contract', () => {
  it('round-trips a valid manifest, keeping the nanosecond mtime exact', () => {
    const m = parseManifest(JSON.stringify(manifest()));
    expect(m).toEqual(manifest());
    expect(BigInt(m.inputs[0]!.mtime_ns)).toBe(1764904200123456789n);
  });

  it('names the first offending field: an unknown key, a relative path, a bad cutoff, no inputs', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...manifest(), extra: 1 }, ''],
      [{ ...manifest(), result_path: 'rel/r.json' }, 'result_path'],
      [{ ...manifest(), weighting: { scheme: 'pb2_over_var', pb_cutoff: 1.5 } }, 'weighting.pb_cutoff'],
      [{ ...manifest(), inputs: [] }, 'inputs'],
      [{ ...manifest(), version: 2 }, 'version'],
    ];
    for (const [m, field] of cases) {
      let err: unknown;
      try {
        parseManifest(JSON.stringify(m));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MosaicContractError);
      expect((err as MosaicContractError).field).toBe(field);
    }
    expect(() => parseManifest('{not json')).toThrow(/manifest: not JSON/);
  });

  it('parses a failure result with a validation code and rejects an unknown code', () => {
    const r = {
      ok: false,
      error_code: 'not_continuum',
      error: 'axis 3 has 7 channels',
      outputs: null,
      n_used: 0,
      skipped: [],
      grid: null,
      stats: null,
      builder_version: 'contimg-mosaic-build 1',
    };
    expect(parseResult(JSON.stringify(r)).error_code).toBe('not_continuum');
    expect(() => parseResult(JSON.stringify({ ...r, error_code: 'oops' }))).toThrow(/result: error_code/);
  });

  it('frameKey follows the FITS WCS defaults', () => {
    expect(frameKey(undefined, undefined)).toBe('ICRS');
    expect(frameKey(undefined, 1950)).toBe('FK4/1950');
    expect(frameKey(undefined, 2000)).toBe('FK5/2000');
    expect(frameKey('FK5', undefined)).toBe('FK5/2000');
    expect(frameKey('fk4 ', undefined)).toBe('FK4/1950');
    expect(frameKey('ICRS', 2000)).toBe('ICRS');
  });

  it('dates the files by the window start in UTC', () => {
    const p = mosaicPaths('/out', 'science', 'science_x', Date.UTC(2025, 11, 31, 23, 59));
    expect(p.dir).toBe('/out/science/2025/12/31');
    expect(p.manifest).toBe('/out/science/2025/12/31/science_x.manifest.json');
    expect(p.weights).toBe('/out/science/2025/12/31/science_x.weights.fits');
    expect(p.result).toBe('/out/science/2025/12/31/science_x.result.json');
  });
});
