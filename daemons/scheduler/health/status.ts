// Health results and the decisions on them, pure: dampening (Monit's "for N cycles", re-armed correctly),
// the overall status, and the legacy encodings of the old health API and its gauges.
import { alertFingerprint, type Severity } from '../../../lib/alerts/index.js';
import type { HealthStatus, HeldAlert, LegacyStatus } from '../store.js';

export type HealthKind = 'systemd' | 'docker' | 'http' | 'sqlite' | 'disk' | 'gpu';

/** The alert a non-ok status calls for (raised only once dampening lets it fire). */
export interface WantedAlert {
  alertname: string;
  severity: Severity;
  labels: Record<string, string>;
  summary: string;
}

export interface TargetResult {
  targetId: string;
  kind: HealthKind;
  name: string;
  critical: boolean;
  status: HealthStatus;
  legacy: LegacyStatus;
  detail: string;
  value: number | null;
  data: Record<string, unknown>;
  durationMs: number;
  alert: WantedAlert | null;
}

export const result = (
  base: Pick<TargetResult, 'kind' | 'name' | 'critical'> & { targetId?: string },
  r: Omit<TargetResult, 'targetId' | 'kind' | 'name' | 'critical'>,
): TargetResult => ({ targetId: base.targetId ?? `${base.kind}:${base.name}`, ...base, ...r });

/** A probe that could not answer (timeout, missing command, unreadable path): status unknown. */
export function probeFailed(
  base: Pick<TargetResult, 'kind' | 'name' | 'critical'>,
  detail: string,
  durationMs: number,
  legacy: LegacyStatus = 'unknown',
): TargetResult {
  return result(base, {
    status: 'unknown',
    legacy,
    detail,
    value: null,
    data: {},
    durationMs,
    alert: {
      alertname: 'HealthProbeFailed',
      severity: 'warning',
      labels: { target: `${base.kind}:${base.name}` },
      summary: `health probe ${base.kind}:${base.name} cannot answer: ${detail}`,
    },
  });
}

export const isFailure = (s: HealthStatus): boolean => s === 'warn' || s === 'crit' || s === 'unknown';

export interface DampState {
  failures: number;
  successes: number;
  alert: HeldAlert | null;
}

export interface DampDecision {
  next: DampState;
  /** Raise (or refresh) this alert now. */
  raise: HeldAlert | null;
  /** Resolve this alert now. */
  resolve: HeldAlert | null;
}

const sameAlert = (a: HeldAlert, b: HeldAlert): boolean =>
  alertFingerprint(a.alertname, a.labels) === alertFingerprint(b.alertname, b.labels);

/**
 * Fire after `failuresBeforeAlert` consecutive non-ok results, resolve after `successesBeforeResolve` ok
 * ones. While firing, a change of kind (degraded → down) swaps the alert; a change of severity refreshes it.
 * `host` is added to the wanted alert's labels (alerts carry the host they were found on).
 */
export function dampen(
  prev: DampState | null,
  r: Pick<TargetResult, 'status' | 'alert'>,
  cfg: { failuresBeforeAlert: number; successesBeforeResolve: number },
  host: string,
): DampDecision {
  const p = prev ?? { failures: 0, successes: 0, alert: null };
  if (isFailure(r.status)) {
    const failures = p.failures + 1;
    const want: HeldAlert | null = r.alert
      ? { alertname: r.alert.alertname, labels: { ...r.alert.labels, host }, severity: r.alert.severity }
      : null;
    if (failures < cfg.failuresBeforeAlert || !want)
      return { next: { failures, successes: 0, alert: p.alert }, raise: null, resolve: null };
    const swap = p.alert !== null && !sameAlert(p.alert, want);
    return { next: { failures, successes: 0, alert: want }, raise: want, resolve: swap ? p.alert : null };
  }
  const successes = p.successes + 1;
  if (p.alert && successes >= cfg.successesBeforeResolve)
    return { next: { failures: 0, successes, alert: null }, raise: null, resolve: p.alert };
  return { next: { failures: 0, successes, alert: p.alert }, raise: null, resolve: null };
}

export type Overall = 'healthy' | 'degraded' | 'unhealthy';

/** All ok → healthy; any crit on a critical target → unhealthy; anything else not ok → degraded. */
export function overallStatus(rs: readonly Pick<TargetResult, 'status' | 'critical'>[]): Overall {
  if (rs.some((r) => r.status === 'crit' && r.critical)) return 'unhealthy';
  if (rs.some((r) => isFailure(r.status))) return 'degraded';
  return 'healthy';
}

export const OVERALL_VALUE: Record<Overall, number> = { healthy: 0, degraded: 1, unhealthy: 2 };
export const STATUS_VALUE: Record<HealthStatus, number> = {
  ok: 0,
  warn: 1,
  crit: 2,
  unknown: 3,
  unavailable: 4,
};
/** The original's encoding (contimg_systemd_service_status, contimg_docker_container_status). */
export const LEGACY_VALUE: Record<LegacyStatus, number> = {
  running: 1,
  degraded: 0.5,
  stopped: 0,
  error: -1,
  unknown: -2,
};

/** The generic mapping to the old vocabulary; probes with their own rules (systemd, docker, http) set it. */
export function legacyOf(s: HealthStatus): LegacyStatus {
  return s === 'ok' ? 'running' : s === 'warn' ? 'degraded' : s === 'crit' ? 'error' : 'unknown';
}
