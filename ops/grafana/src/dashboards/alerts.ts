// Alerts and their delivery: what fires (everything the dispatcher knows, and Prometheus's own rules), and
// how the dispatcher's outbox delivers it (per receiver: outcomes, attempts, pending, circuit, latency), its
// intake and its loop. Only the dispatcher holding the lease sets the alert and outbox gauges (a standby reports
// 0), so those panels take max across instances.
import {
  dashboard,
  instant,
  q,
  quantile,
  row,
  stat,
  stateTimeline,
  table,
  timeseries,
  valueText,
} from '../panels.js';

export const file = 'contimg-alerts.json';

export function build() {
  return dashboard(
    'contimg-alerts',
    'contimg / alerts and delivery',
    'Alerts firing, muted and acknowledged; the alert dispatcher outbox per receiver: outcomes, attempts, pending, circuit, latency; intake and the dispatch loop.',
  )
    .withRow(row('Alerts'))
    .withPanel(
      stat(
        'Firing now',
        [instant('max by (severity) (contimg_alerts_active{state="firing"})', '{{severity}}')],
        {
          w: 8,
          thresholds: [[1, 'red']],
          description:
            'Alerts the dispatcher is delivering now, from every source (the daemons, Prometheus, Alertmanager); muted and acknowledged ones are in the next panel.',
        },
      ),
    )
    .withPanel(
      stat(
        'Muted, acknowledged, silences',
        [
          instant('sum(max by (severity) (contimg_alerts_active{state="muted"}))', 'muted'),
          instant('sum(max by (severity) (contimg_alerts_active{state="acked"}))', 'acknowledged'),
          instant('max(contimg_alerts_silences_active)', 'silences'),
        ],
        { w: 8, base: 'blue' },
      ),
    )
    .withPanel(
      stat(
        'Since the last dispatch tick',
        [instant('time() - max(contimg_alerts_loop_last_timestamp_seconds)', 'loop')],
        {
          w: 8,
          unit: 's',
          thresholds: [[120, 'red']],
          description: 'ContimgAlertDispatchStalled fires after 5 minutes without a tick.',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Active alerts by state',
        [q('max by (severity, state) (contimg_alerts_active)', '{{severity}} {{state}}')],
        { w: 12, min: 0, decimals: 0, stack: true },
      ),
    )
    .withPanel(
      timeseries(
        'New firing episodes per hour',
        [q('sum by (severity) (increase(contimg_alerts_fired_total[1h]))', '{{severity}}')],
        { w: 12, min: 0, bars: true },
      ),
    )
    .withPanel(
      table(
        'Prometheus alerts firing',
        [instant('sum by (alertname, severity, job) (ALERTS{alertstate="firing", system="contimg"})')],
        { w: 24, h: 6 },
      ),
    )
    .withRow(row('Delivery'))
    .withPanel(
      timeseries(
        'Notifications per hour by outcome',
        [
          q(
            'sum by (receiver, outcome) (increase(contimg_alerts_notifications_total[1h])) > 0',
            '{{receiver}} {{outcome}}',
          ),
        ],
        {
          w: 12,
          min: 0,
          bars: true,
          description: 'ContimgAlertDeliveryDead fires on any dead notification.',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Delivery attempts per hour by result',
        [
          q(
            'sum by (receiver, result) (increase(contimg_alerts_delivery_attempts_total[1h])) > 0',
            '{{receiver}} {{result}}',
          ),
        ],
        { w: 12, min: 0, bars: true },
      ),
    )
    .withPanel(
      timeseries(
        'Outbox: not yet delivered',
        [q('max by (receiver) (contimg_alerts_outbox_pending)', '{{receiver}}')],
        { w: 12, min: 0, decimals: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Outbox: oldest waiting',
        [q('max by (receiver) (contimg_alerts_outbox_oldest_pending_age_seconds)', '{{receiver}}')],
        {
          w: 12,
          unit: 's',
          min: 0,
          thresholds: [[600, 'red']],
          description: 'ContimgAlertOutboxStuck fires after 15 minutes over 10 minutes.',
        },
      ),
    )
    .withPanel(
      stateTimeline(
        'Receiver circuit',
        [q('max by (receiver) (contimg_alerts_receiver_circuit_open)', '{{receiver}}')],
        {
          w: 12,
          mappings: valueText({ '0': ['closed', 'green'], '1': ['open', 'red'] }),
          description:
            'Open after 5 failures in a row; probed once a minute. ContimgAlertReceiverCircuitOpen after 10 minutes.',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Enqueue to sent, p95',
        [
          quantile(0.95, 'contimg_alerts_notification_latency_seconds', 'receiver, le', '{{receiver}}'),
          quantile(
            0.95,
            'contimg_alerts_delivery_duration_seconds',
            'receiver, le',
            '{{receiver}} one attempt',
          ),
        ],
        { w: 12, unit: 's', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Copies to the fallback receiver per hour',
        [q('sum by (receiver) (increase(contimg_alerts_failovers_total[1h])) > 0', 'from {{receiver}}')],
        { w: 12, min: 0, bars: true },
      ),
    )
    .withPanel(
      timeseries(
        'Notifications enqueued per hour by kind',
        [q('sum by (kind) (increase(contimg_alerts_notifications_enqueued_total[1h])) > 0', '{{kind}}')],
        { w: 12, min: 0, bars: true },
      ),
    )
    .withRow(row('Intake and loop'))
    .withPanel(
      timeseries(
        'Alerts posted per hour',
        [
          q(
            'sum by (endpoint, code) (increase(contimg_alerts_intake_requests_total[1h])) > 0',
            '{{endpoint}} {{code}}',
          ),
        ],
        {
          w: 12,
          min: 0,
          description:
            'Requests from Prometheus (/api/v2/alerts) and Alertmanager (webhook) by status answered.',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Loop errors per hour',
        [q('sum by (loop) (increase(contimg_alerts_loop_errors_total[1h]))', '{{loop}}')],
        { w: 12, min: 0 },
      ),
    );
}
