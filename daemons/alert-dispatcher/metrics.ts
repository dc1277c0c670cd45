// Every contimg_alerts_ series, declared up front and initialised for every receiver and label value, so
// dashboards and rules see zeros instead of gaps. Labels never carry a secret (receiver names only).
import { SEVERITIES } from '../../lib/alerts/index.js';
import { Counter, Gauge, Histogram, type Registry } from '../../lib/metrics.js';
import { KINDS } from '../../lib/notifiers/content.js';
import { ATTEMPT_RESULTS } from '../../lib/notifiers/index.js';

export const OUTCOMES = ['sent', 'dead', 'superseded'] as const;
export const INTAKE_ENDPOINTS = ['alertmanager', 'prometheus'] as const;
export const ACTIVE_STATES = ['firing', 'muted', 'acked'] as const;

export interface DispatcherMetrics {
  active: Gauge<'severity' | 'state'>;
  fired: Counter<'severity'>;
  notifications: Counter<'receiver' | 'kind' | 'outcome'>;
  enqueued: Counter<'receiver' | 'kind'>;
  attempts: Counter<'receiver' | 'result'>;
  deliverySeconds: Histogram<'receiver'>;
  latencySeconds: Histogram<'receiver'>;
  pending: Gauge<'receiver'>;
  oldestPendingAge: Gauge<'receiver'>;
  circuitOpen: Gauge<'receiver'>;
  silences: Gauge;
  intake: Counter<'endpoint' | 'code'>;
  heartbeat: Gauge;
  loopErrors: Counter<'loop'>;
  failovers: Counter<'receiver'>;
}

export function dispatcherMetrics(registry: Registry, receivers: readonly string[]): DispatcherMetrics {
  const p = 'contimg_alerts_';
  const r = [registry];
  const m: DispatcherMetrics = {
    active: new Gauge({
      name: `${p}active`,
      help: 'Alerts firing now, by severity and whether they are delivered (firing), muted or acknowledged.',
      labelNames: ['severity', 'state'],
      registers: r,
    }),
    fired: new Counter({
      name: `${p}fired_total`,
      help: 'New firing episodes seen by the dispatcher.',
      labelNames: ['severity'],
      registers: r,
    }),
    notifications: new Counter({
      name: `${p}notifications_total`,
      help: 'Notifications that reached a final state: sent, dead (gave up) or superseded by a newer one.',
      labelNames: ['receiver', 'kind', 'outcome'],
      registers: r,
    }),
    enqueued: new Counter({
      name: `${p}notifications_enqueued_total`,
      help: 'Notifications written to the outbox.',
      labelNames: ['receiver', 'kind'],
      registers: r,
    }),
    attempts: new Counter({
      name: `${p}delivery_attempts_total`,
      help: 'Delivery attempts by result (ok, http_4xx, http_429, http_5xx, timeout, network, smtp_4xx, smtp_5xx, crashed).',
      labelNames: ['receiver', 'result'],
      registers: r,
    }),
    deliverySeconds: new Histogram({
      name: `${p}delivery_duration_seconds`,
      help: 'Duration of one delivery attempt.',
      labelNames: ['receiver'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    latencySeconds: new Histogram({
      name: `${p}notification_latency_seconds`,
      help: 'From enqueue to sent, per notification.',
      labelNames: ['receiver'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 1800],
      registers: r,
    }),
    pending: new Gauge({
      name: `${p}outbox_pending`,
      help: 'Notifications not yet delivered (held, pending, sending, retry_wait).',
      labelNames: ['receiver'],
      registers: r,
    }),
    oldestPendingAge: new Gauge({
      name: `${p}outbox_oldest_pending_age_seconds`,
      help: 'Age of the oldest notification not yet delivered (0 when none).',
      labelNames: ['receiver'],
      registers: r,
    }),
    circuitOpen: new Gauge({
      name: `${p}receiver_circuit_open`,
      help: '1 while the receiver circuit breaker is open or half open (probing), else 0.',
      labelNames: ['receiver'],
      registers: r,
    }),
    silences: new Gauge({ name: `${p}silences_active`, help: 'Silences in force now.', registers: r }),
    intake: new Counter({
      name: `${p}intake_requests_total`,
      help: 'Alerts posted by Alertmanager (webhook) and Prometheus (/api/v2/alerts), by HTTP status answered.',
      labelNames: ['endpoint', 'code'],
      registers: r,
    }),
    heartbeat: new Gauge({
      name: `${p}loop_last_timestamp_seconds`,
      help: 'When the dispatch loop last completed a tick (Unix seconds).',
      registers: r,
    }),
    loopErrors: new Counter({
      name: `${p}loop_errors_total`,
      help: 'Failed ticks of the dispatch loop and the receiver workers.',
      labelNames: ['loop'],
      registers: r,
    }),
    failovers: new Counter({
      name: `${p}failovers_total`,
      help: 'Notifications copied to a fallback receiver, by failing primary.',
      labelNames: ['receiver'],
      registers: r,
    }),
  };
  for (const severity of SEVERITIES) {
    m.fired.inc({ severity }, 0);
    for (const state of ACTIVE_STATES) m.active.set({ severity, state }, 0);
  }
  for (const receiver of receivers) {
    for (const kind of KINDS) {
      m.enqueued.inc({ receiver, kind }, 0);
      for (const outcome of OUTCOMES) m.notifications.inc({ receiver, kind, outcome }, 0);
    }
    for (const result of ATTEMPT_RESULTS) m.attempts.inc({ receiver, result }, 0);
    m.deliverySeconds.zero({ receiver });
    m.latencySeconds.zero({ receiver });
    m.pending.set({ receiver }, 0);
    m.oldestPendingAge.set({ receiver }, 0);
    m.circuitOpen.set({ receiver }, 0);
    m.failovers.inc({ receiver }, 0);
  }
  for (const endpoint of INTAKE_ENDPOINTS)
    for (const code of ['200', '400', '503']) m.intake.inc({ endpoint, code }, 0);
  for (const loop of ['dispatch', 'delivery']) m.loopErrors.inc({ loop }, 0);
  m.silences.set(0);
  m.heartbeat.set(0);
  return m;
}
