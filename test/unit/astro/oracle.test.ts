// §5.9 tests 1–5: lib/astro against the committed astropy 5.2.1 oracle (offline, UT1−UTC as given).
import fs from 'node:fs';
import path from 'node:path';
import * as AE from 'astronomy-engine';
import { describe, expect, it } from 'vitest';
import { lstHours, nextTransit, parseUtc, SIDEREAL_RATE, unixMsFromJd } from '../../../lib/astro/index.js';
import { SHARED_DATA } from '../../helpers/tmp.js';

interface Cases {
  site: { lat_deg: number; lon_deg: number; height_m: number };
  dut1_s: number;
  instants: string[];
  sources: { name: string; ra_deg: number; dec_deg: number; after: string }[];
}
interface Oracle {
  lst: { utc: string; last_h: number; lmst_h: number }[];
  transits: { name: string; after: string; legacy_jd: number; apparent_jd: number }[];
}
const dir = path.join(SHARED_DATA, 'astro');
const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases-dev.json'), 'utf8')) as Cases;
const oracle = JSON.parse(fs.readFileSync(path.join(dir, 'oracle-astropy-dev.json'), 'utf8')) as Oracle;
const site = { latDeg: cases.site.lat_deg, lonDeg: cases.site.lon_deg, heightM: cases.site.height_m };

/** Sidereal hours difference → SI seconds of time. */
const lstDiffS = (a: number, b: number): number => ((((a - b + 36) % 24) - 12) * 3600) / SIDEREAL_RATE;

describe('sidereal time against astropy', () => {
  it('covers the published instants', () => {
    expect(oracle.lst.length).toBe(cases.instants.length);
    expect(oracle.lst.length).toBeGreaterThanOrEqual(200);
  });

  it('apparent LST within 0.020 s at every instant', () => {
    const errs = oracle.lst.map((r) =>
      lstDiffS(lstHours(parseUtc(r.utc), { lonDeg: site.lonDeg }), r.last_h),
    );
    expect(Math.max(...errs.map(Math.abs))).toBeLessThanOrEqual(0.02);
  });

  it('mean LST within 0.001 s at every instant', () => {
    const errs = oracle.lst.map((r) =>
      lstDiffS(lstHours(parseUtc(r.utc), { lonDeg: site.lonDeg, kind: 'mean' }), r.lmst_h),
    );
    expect(Math.max(...errs.map(Math.abs))).toBeLessThanOrEqual(0.001);
  });

  it.each([
    ['2025-01-01T00:00:00Z', 'apparent', 22.841193536, 5.6e-6],
    ['2030-12-31T23:59:59Z', 'mean', 22.811137503, 2.8e-7],
  ] as const)('golden %s %s LST', (iso, kind, hours, tol) => {
    expect(Math.abs(lstHours(parseUtc(iso), { lonDeg: site.lonDeg, kind }) - hours)).toBeLessThanOrEqual(tol);
  });
});

describe('transits against astropy', () => {
  const rows = oracle.transits.map((t, i) => ({ t, s: cases.sources[i] }));

  it('pairs every oracle transit with its case', () => {
    expect(rows.length).toBeGreaterThan(50);
    for (const { t, s } of rows) expect([t.name, t.after]).toEqual([s.name, s.after]);
  });

  it('legacy model (LAST = RA J2000) within 0.050 s', () => {
    const errs = rows.map(({ t, s }) => {
      const tr = nextTransit({ raDeg: s.ra_deg, decDeg: s.dec_deg }, parseUtc(s.after), {
        site,
        model: 'legacy',
      });
      return (tr.utcMs - unixMsFromJd(t.legacy_jd)) / 1000;
    });
    expect(Math.max(...errs.map(Math.abs))).toBeLessThanOrEqual(0.05);
  });

  it('apparent model (apparent topocentric HA = 0) within 0.25 s for |dec| ≤ 72°', () => {
    const used = rows.filter(({ s }) => Math.abs(s.dec_deg) <= 72);
    expect(used.length).toBe(rows.length);
    const errs = used.map(({ t, s }) => {
      const tr = nextTransit({ raDeg: s.ra_deg, decDeg: s.dec_deg }, parseUtc(s.after), { site });
      expect(tr.model).toBe('apparent');
      return (tr.utcMs - unixMsFromJd(t.apparent_jd)) / 1000;
    });
    expect(Math.max(...errs.map(Math.abs))).toBeLessThanOrEqual(0.25);
  });

  // At astropy's apparent transit instant, the source's topocentric apparent place of date (precession,
  // nutation, aberration) from astronomy-engine's own star model, and its altitude there. The transit must
  // report that declination and elevation, not the J2000 ones (which are 30–570″ away over 2020–2030).
  it('apparent model reports the declination of date and its elevation at the oracle transit', () => {
    const observer = new AE.Observer(site.latDeg, site.lonDeg, site.heightM);
    let worstDecArcsec = 0;
    let worstElArcsec = 0;
    for (const { t, s } of rows) {
      const at = new Date(unixMsFromJd(t.apparent_jd));
      AE.DefineStar(AE.Body.Star1, s.ra_deg / 15, s.dec_deg, 1e6);
      const app = AE.Equator(AE.Body.Star1, at, observer, true, true);
      const horizon = AE.Horizon(at, observer, app.ra, app.dec);
      const tr = nextTransit({ raDeg: s.ra_deg, decDeg: s.dec_deg }, parseUtc(s.after), { site });
      expect(Math.abs(app.dec - s.dec_deg) * 3600).toBeGreaterThan(30);
      worstDecArcsec = Math.max(worstDecArcsec, Math.abs(tr.decDeg - app.dec) * 3600);
      worstElArcsec = Math.max(worstElArcsec, Math.abs(tr.elevationDeg - horizon.altitude) * 3600);
      // Culminating north of the zenith means looking north (azimuth 0°), else south (180°).
      expect(tr.northOfZenith).toBe(Math.cos((horizon.azimuth * Math.PI) / 180) > 0);
      // Independently of any library: the declination moved from J2000 by the general precession,
      // 20.04″/yr × cos α, give or take nutation (≤ 9.3″) and annual aberration (≤ 20.5″).
      const years = (at.getTime() - Date.UTC(2000, 0, 1, 12)) / (365.25 * 86_400_000);
      const precession = 20.0431 * Math.cos((s.ra_deg * Math.PI) / 180) * years;
      expect(Math.abs((tr.decDeg - s.dec_deg) * 3600 - precession)).toBeLessThanOrEqual(30);
    }
    expect(worstDecArcsec).toBeLessThanOrEqual(0.1);
    expect(worstElArcsec).toBeLessThanOrEqual(0.1);
  });

  it('legacy model reports the J2000 declination and its elevation', () => {
    for (const { s } of rows) {
      const tr = nextTransit({ raDeg: s.ra_deg, decDeg: s.dec_deg }, parseUtc(s.after), {
        site,
        model: 'legacy',
      });
      expect(tr.decDeg).toBe(s.dec_deg);
      expect(tr.elevationDeg).toBeCloseTo(90 - Math.abs(site.latDeg - s.dec_deg), 9);
      expect(tr.northOfZenith).toBe(s.dec_deg > site.latDeg);
    }
  });

  it.each([
    ['3C286', 202.7845, 30.5092, '2025-01-01T00:00:00Z', '2025-01-01T14:39:24.748Z'],
    ['J0834+555', 128.7287, 55.5725, '2025-06-01T00:00:00Z', '2025-06-01T23:47:08.233Z'],
    ['3C48', 24.422, 33.1597, '2026-03-15T00:00:00Z', '2026-03-15T21:58:13.737Z'],
    ['J1924-2914', 291.2126, -29.2417, '2029-11-01T06:30:00Z', '2029-11-02T00:33:32.620Z'],
  ])('golden apparent transit of %s', (_n, ra, dec, from, expected) => {
    const tr = nextTransit({ raDeg: ra, decDeg: dec }, parseUtc(from), { site });
    expect(Math.abs(tr.utcMs - parseUtc(expected))).toBeLessThanOrEqual(250);
  });
});

describe('UT1−UTC propagation', () => {
  const instants = cases.instants.map(parseUtc);

  it('raises LST by 0.5 × 1.00273791 s for dut1 = +0.5 s', () => {
    for (const t of instants) {
      for (const kind of ['apparent', 'mean'] as const) {
        const d =
          lstHours(t, { lonDeg: site.lonDeg, kind, dut1S: 0.5 }) - lstHours(t, { lonDeg: site.lonDeg, kind });
        const s = (((d + 36) % 24) - 12) * 3600;
        expect(Math.abs(s - 0.501369)).toBeLessThanOrEqual(0.001);
      }
    }
  });

  it('moves every transit by −0.500 s in both models', () => {
    for (const s of cases.sources) {
      for (const model of ['apparent', 'legacy'] as const) {
        const src = { raDeg: s.ra_deg, decDeg: s.dec_deg };
        const a = nextTransit(src, parseUtc(s.after), { site, model });
        const b = nextTransit(src, parseUtc(s.after), { site, model, dut1: 0.5 });
        expect(Math.abs((b.utcMs - a.utcMs) / 1000 + 0.5)).toBeLessThanOrEqual(0.002);
      }
    }
  });

  it('accepts UT1−UTC as a function of time', () => {
    const t = parseUtc('2025-01-01T00:00:00Z');
    const viaFn = nextTransit({ raDeg: 202.7845, decDeg: 30.5092 }, t, { site, dut1: () => 0.25 });
    const viaConst = nextTransit({ raDeg: 202.7845, decDeg: 30.5092 }, t, { site, dut1: 0.25 });
    expect(viaFn.utcMs).toBe(viaConst.utcMs);
    expect(viaFn.dut1S).toBe(0.25);
  });
});
