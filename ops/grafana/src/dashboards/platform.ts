// What every daemon shares: SQLite (WAL, lock waits, errors), the job queues, WebSocket and HTTP, processes.
import { dashboard, instant, q, row, table, timeseries } from '../panels.js';

export const file = 'contimg-platform.json';

export function build() {
  return dashboard(
    'contimg-platform',
    'contimg / platform',
    'SQLite WAL and locks, job queues, WebSocket clients, HTTP and process resources of every contimg daemon.',
  )
    .withRow(row('Databases'))
    .withPanel(
      timeseries('WAL size', [q('contimg:db_wal_bytes:max', '{{db}}')], {
        w: 12,
        unit: 'bytes',
        min: 0,
        thresholds: [[128 * 1024 * 1024, 'orange']],
        description: 'ContimgWalGrowing fires after 15 minutes over 128 MiB.',
      }),
    )
    .withPanel(
      timeseries('Write-lock wait p99', [q('job:contimg_db_lock_wait_seconds:p99_5m', '{{job}} {{db}}')], {
        w: 12,
        unit: 's',
        thresholds: [[1, 'orange']],
      }),
    )
    .withPanel(
      timeseries(
        'Writes that gave up (busy) and errors per hour',
        [
          q('sum by (job, db) (increase(contimg_db_busy_timeouts_total[1h])) > 0', 'busy {{job}} {{db}}'),
          q('sum by (db, code) (increase(contimg_db_errors_total[1h])) > 0', '{{code}} {{db}}'),
        ],
        { w: 12, min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Checkpoints per hour',
        [
          q(
            'sum by (db, mode, result) (increase(contimg_db_checkpoints_total[1h])) > 0',
            '{{db}} {{mode}} {{result}}',
          ),
        ],
        { w: 12, min: 0 },
      ),
    )
    .withRow(row('Queues'))
    .withPanel(
      timeseries(
        'Queue depth',
        [q('contimg:queue_jobs:max{state=~"queued|running|dead"}', '{{queue}} {{state}}')],
        { w: 12, min: 0, decimals: 0 },
      ),
    )
    .withPanel(
      timeseries('Oldest due job waiting', [q('contimg:queue_oldest_age_seconds:max', '{{queue}}')], {
        w: 12,
        unit: 's',
        min: 0,
      }),
    )
    .withPanel(
      timeseries(
        'Attempt outcomes per hour',
        [
          q(
            'sum by (queue, outcome) (increase(contimg_queue_outcomes_total[1h])) > 0',
            '{{queue}} {{outcome}}',
          ),
        ],
        { w: 24, min: 0, bars: true },
      ),
    )
    .withRow(row('WebSocket and HTTP'))
    .withPanel(
      timeseries('WebSocket clients', [q('sum by (job) (contimg_ws_connections)', '{{job}}')], {
        w: 12,
        min: 0,
        decimals: 0,
      }),
    )
    .withPanel(
      timeseries(
        'WebSocket disconnects per hour by reason',
        [q('sum by (reason) (increase(contimg_ws_disconnects_total[1h])) > 0', '{{reason}}')],
        { w: 12, min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'HTTP requests by status',
        [q('sum by (job, code) (rate(contimg_http_requests_total[5m]))', '{{job}} {{code}}')],
        { w: 12, unit: 'reqps', min: 0 },
      ),
    )
    .withPanel(
      timeseries('HTTP p99 by route', [q('job:contimg_http_request_seconds:p99_5m', '{{job}} {{route}}')], {
        w: 12,
        unit: 's',
      }),
    )
    .withRow(row('Processes'))
    .withPanel(
      timeseries('Resident memory', [q('contimg_process_resident_memory_bytes', '{{job}}')], {
        w: 8,
        unit: 'bytes',
        min: 0,
      }),
    )
    .withPanel(
      timeseries('CPU', [q('rate(contimg_process_cpu_seconds_total[5m])', '{{job}}')], {
        w: 8,
        unit: 'percentunit',
        min: 0,
      }),
    )
    .withPanel(
      timeseries('Event-loop lag p99', [q('contimg_nodejs_eventloop_lag_p99_seconds', '{{job}}')], {
        w: 8,
        unit: 's',
        min: 0,
      }),
    )
    .withPanel(
      table('Builds', [instant('contimg_build_info', '{{job}}')], {
        w: 24,
        h: 6,
        description: 'Version and Node.js of each running daemon.',
      }),
    );
}
