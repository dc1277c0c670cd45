// The flux algorithm on the research fixtures: drift %, severities, the minimum count, excluded rows, the
// scale offset, no data, and the hysteresis of a firing drift alert.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import {
  driftPercent,
  evaluateFlux,
  mjdFromMs,
  type FluxRow,
} from '../../../daemons/scheduler/flux/evaluate.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const cfg = parseConfig({ dataDir: '/d', databases: { state: 's', pipeline: 'p' } }, '/d').scheduler.flux;

/** Hourly measurements ending an hour ago. */
function series(calibrator: string, ratios: number[], catalogJy = 10): FluxRow[] {
  const n = ratios.length;
  return ratios.map((ratio, i) => ({
    calibrator,
    ratio,
    catalogJy,
    mjd: mjdFromMs(NOW - (n - i) * 3_600_000),
    phaseRmsDeg: 3 + i,
  }));
}
const ramp = (step: number, n = 10) => Array.from({ length: n }, (_, i) => 1 + step * i);

describe('calibrator flux check', () => {
  const rows = [
    ...series('RISE27', ramp(0.03)), // 1.00 → 1.27
    ...series('RISE36', ramp(0.04)), // 1.00 → 1.36
    ...series('RISE45', ramp(0.05)), // 1.00 → 1.45
    ...series('FLAT', [1.01, 0.99, 1.01, 0.99, 1.01, 0.99]),
    ...series('TWO', [1.0, 1.8]),
    ...series('LOW', [0.7, 0.7, 0.7, 0.7]),
    ...series('BADCAT', [1, 1, 1], 0),
    { calibrator: 'FLAT', ratio: 0, catalogJy: 10, mjd: mjdFromMs(NOW - 3_600_000), phaseRmsDeg: null },
    // Older than the window: ignored entirely.
    { calibrator: 'OLD', ratio: 5, catalogJy: 10, mjd: mjdFromMs(NOW - 8 * 86_400_000), phaseRmsDeg: null },
  ];
  const r = evaluateFlux(rows, NOW, cfg, new Set(), NOW - 3_600_000);
  const by = Object.fromEntries(r.calibrators.map((c) => [c.calibrator, c]));
  const alerts = r.findings.map((f) => `${f.alertname}:${f.labels.calibrator ?? ''}:${f.severity}`).sort();

  it('computes the drift as the original did and grades it', () => {
    expect(by.RISE27.driftPct).toBeCloseTo(27, 6);
    expect(by.RISE36.driftPct).toBeCloseTo(36, 6);
    expect(by.RISE45.driftPct).toBeCloseTo(45, 6);
    expect([by.RISE27.drift, by.RISE36.drift, by.RISE45.drift]).toEqual(['warning', 'warning', 'critical']);
    expect(by.FLAT.driftPct).toBeCloseTo((1.01 / 0.99 - 1) * 100, 6);
    expect(by.FLAT.drift).toBe('ok');
    expect(by.TWO.drift).toBe('ok'); // n = 2 < 3
    expect(by.RISE45.latest).toBeCloseTo(1.45);
    expect(by.RISE45.phaseRmsDeg).toBe(12);
  });

  it('leaves out and counts rows with catalog flux or ratio ≤ 0; ignores rows before the window', () => {
    expect(r.excluded).toBe(4);
    expect(r.rows).toBe(10 * 3 + 6 + 2 + 4 + 3 + 1);
    expect(by.BADCAT).toBeUndefined();
    expect(by.OLD).toBeUndefined();
    expect(by.FLAT.n).toBe(6);
  });

  it('raises exactly the expected alerts', () => {
    expect(alerts).toEqual([
      'CalibratorFluxDrift:RISE27:warning',
      'CalibratorFluxDrift:RISE36:warning',
      'CalibratorFluxDrift:RISE45:critical',
      'CalibratorFluxScaleOffset:LOW:warning',
      'CalibratorFluxScaleOffset:RISE27:warning',
      'CalibratorFluxScaleOffset:RISE36:warning',
      'CalibratorFluxScaleOffset:RISE45:warning',
    ]);
    const d = r.findings.find(
      (f) => f.labels.calibrator === 'RISE27' && f.alertname === 'CalibratorFluxDrift',
    )!;
    expect(d.description).toBe(
      'Flux calibration drift detected for RISE27: 27.0% over 7.0 days (mean ratio: 1.135, recent: 1.270, n=10)',
    );
    expect(by.LOW.stable).toBe(false);
    expect(by.FLAT.stable).toBe(true);
  });

  it('a firing drift alert holds between resolveBelowPct and driftWarnPct, and resolves at or below it', () => {
    const at19 = series('H', [1, 1.19, 1.1]);
    expect(
      evaluateFlux(at19, NOW, cfg, new Set(), NOW).findings.filter(
        (f) => f.alertname === 'CalibratorFluxDrift',
      ),
    ).toEqual([]);
    const held = evaluateFlux(at19, NOW, cfg, new Set(['H']), NOW).findings.filter(
      (f) => f.alertname === 'CalibratorFluxDrift',
    );
    expect(held.map((f) => f.severity)).toEqual(['warning']);
    const at17 = series('H', [1, 1.17, 1.1]);
    expect(
      evaluateFlux(at17, NOW, cfg, new Set(['H']), NOW).findings.filter(
        (f) => f.alertname === 'CalibratorFluxDrift',
      ),
    ).toEqual([]);
  });

  it('no row at all for noDataHours is CalibratorFluxNoData (40 h here), also for an empty table', () => {
    const stale = evaluateFlux([], NOW, cfg, new Set(), NOW - 40 * 3_600_000);
    expect(stale.findings.map((f) => f.alertname)).toEqual(['CalibratorFluxNoData']);
    expect(stale.findings[0].value).toBe('40');
    expect(evaluateFlux([], NOW, cfg, new Set(), null).noData).toBe(true);
    expect(evaluateFlux([], NOW, cfg, new Set(), NOW - 35 * 3_600_000).noData).toBe(false);
    expect(evaluateFlux([], NOW, { ...cfg, noDataHours: 0 }, new Set(), null).noData).toBe(false);
  });

  it('falls back to the mean-normalised spread only when min is not positive', () => {
    expect(driftPercent(0.5, 1, 0.75)).toBeCloseTo(100);
    expect(driftPercent(0, 1, 0.5)).toBeCloseTo(200);
    expect(driftPercent(0, 0, 0)).toBe(0);
  });
});
