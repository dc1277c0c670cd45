// The grading rules of a mosaic (docs/thumbnail-worker.md, "Mosaic QA"): each measured metric against its
// thresholds gives a reason (warn, fail, or not_measured); the status is FAIL on any fail rule or grade poor,
// WARN on any warn rule or grade marginal, PASS otherwise, and unknown when the inner region has no finite
// pixel. A check that could not be made is recorded as not_measured and never counts toward PASS: a mosaic
// with no reference source passes only on the rules that were measured, and says so.
import { gradeDynamicRange, type QaGrade } from '../../fits/stats.js';

export interface QaThresholds {
  noiseRatioWarn: number;
  noiseRatioFail: number;
  coverageWarn: number;
  coverageFail: number;
  nanFractionWarn: number;
  nanFractionFail: number;
  bandingWarn: number;
  offsetWarnBeams: number;
  offsetFailBeams: number;
  /** |flux ratio − 1| above this warns (0.15: outside 0.85–1.15). */
  fluxWarn: number;
  fluxFail: number;
  builderAgreementWarn: number;
}

export const DEFAULT_THRESHOLDS: QaThresholds = {
  noiseRatioWarn: 1.3,
  noiseRatioFail: 2.0,
  coverageWarn: 0.95,
  coverageFail: 0.8,
  nanFractionWarn: 0.001,
  nanFractionFail: 0.01,
  bandingWarn: 0.1,
  offsetWarnBeams: 0.2,
  offsetFailBeams: 0.5,
  fluxWarn: 0.15,
  fluxFail: 0.3,
  builderAgreementWarn: 0.05,
};

/** What the streamed measurement found; null where a metric could not be measured (see notMeasured). */
export interface QaMetrics {
  innerPixels: number;
  innerFinite: number;
  noiseJy: number | null;
  noiseExpectedJy: number | null;
  noiseRatio: number | null;
  peakJy: number | null;
  dynamicRange: number | null;
  coverageFraction: number | null;
  nanFraction: number | null;
  banding: number | null;
  nRef: number;
  /** Median over the measured reference sources. */
  offsetBeamsMedian: number | null;
  offsetArcsecMedian: number | null;
  fluxRatioMedian: number | null;
  /** The builder's EFFNOISE header keyword (Jy), when present. */
  builderNoiseJy: number | null;
  /** Why a metric is null: rule → explanation. */
  notMeasured: Record<string, string>;
}

export type QaStatus = 'pass' | 'warn' | 'fail' | 'unknown';

export interface QaReason {
  rule: string;
  value: number | null;
  threshold: number | string | null;
  level: 'warn' | 'fail' | 'not_measured';
  detail?: string;
}

export interface QaVerdict {
  status: QaStatus;
  grade: QaGrade;
  reasons: QaReason[];
}

function above(rule: string, v: number | null, warn: number, fail: number | null, out: QaReason[]): void {
  if (v === null) return;
  if (fail !== null && v > fail) out.push({ rule, value: v, threshold: fail, level: 'fail' });
  else if (v > warn) out.push({ rule, value: v, threshold: warn, level: 'warn' });
}

function below(rule: string, v: number | null, warn: number, fail: number, out: QaReason[]): void {
  if (v === null) return;
  if (v < fail) out.push({ rule, value: v, threshold: fail, level: 'fail' });
  else if (v < warn) out.push({ rule, value: v, threshold: warn, level: 'warn' });
}

/** The reasons, status and grade of a measurement. */
export function judge(m: QaMetrics, t: QaThresholds = DEFAULT_THRESHOLDS): QaVerdict {
  const reasons: QaReason[] = [];
  if (m.innerFinite === 0) {
    const detail = m.notMeasured.inner ?? 'no finite pixel where W ≥ innerWeightFraction·max W';
    return {
      status: 'unknown',
      grade: 'unknown',
      reasons: [{ rule: 'inner', value: 0, threshold: null, level: 'not_measured', detail }],
    };
  }
  above('noise_ratio', m.noiseRatio, t.noiseRatioWarn, t.noiseRatioFail, reasons);
  below('coverage_fraction', m.coverageFraction, t.coverageWarn, t.coverageFail, reasons);
  above('nan_fraction', m.nanFraction, t.nanFractionWarn, t.nanFractionFail, reasons);
  above('banding', m.banding, t.bandingWarn, null, reasons);
  above('reference_offset_beams', m.offsetBeamsMedian, t.offsetWarnBeams, t.offsetFailBeams, reasons);
  const fluxDev = m.fluxRatioMedian === null ? null : Math.abs(m.fluxRatioMedian - 1);
  if (fluxDev !== null && fluxDev > t.fluxFail)
    reasons.push({
      rule: 'reference_flux_ratio',
      value: m.fluxRatioMedian,
      threshold: `1 ± ${t.fluxFail}`,
      level: 'fail',
    });
  else if (fluxDev !== null && fluxDev > t.fluxWarn)
    reasons.push({
      rule: 'reference_flux_ratio',
      value: m.fluxRatioMedian,
      threshold: `1 ± ${t.fluxWarn}`,
      level: 'warn',
    });
  const agreement =
    m.builderNoiseJy !== null && m.noiseExpectedJy !== null && m.noiseExpectedJy > 0
      ? Math.abs(m.builderNoiseJy / m.noiseExpectedJy - 1)
      : null;
  above('builder_agreement', agreement, t.builderAgreementWarn, null, reasons);
  const grade = gradeDynamicRange(m.dynamicRange);
  if (grade === 'poor')
    reasons.push({
      rule: 'grade',
      value: m.dynamicRange,
      threshold: 10,
      level: 'fail',
      detail: 'dynamic range ≤ 10: poor',
    });
  if (grade === 'marginal')
    reasons.push({
      rule: 'grade',
      value: m.dynamicRange,
      threshold: 100,
      level: 'warn',
      detail: 'dynamic range ≤ 100: marginal',
    });
  for (const [rule, detail] of Object.entries(m.notMeasured))
    reasons.push({ rule, value: null, threshold: null, level: 'not_measured', detail });
  const status: QaStatus = reasons.some((r) => r.level === 'fail')
    ? 'fail'
    : reasons.some((r) => r.level === 'warn')
      ? 'warn'
      : 'pass';
  return { status, grade, reasons };
}
