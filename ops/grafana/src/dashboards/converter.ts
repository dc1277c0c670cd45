// The streaming converter: observation groups, dispatch latency (the key SLO), conversions, files, disk.
import {
  dashboard,
  instant,
  q,
  quantile,
  row,
  stat,
  stateTimeline,
  timeseries,
  valueText,
} from '../panels.js';

export const file = 'contimg-converter.json';

const ACTIVE_STATES = 'collecting|ready|converting|retry_wait|incomplete|failed';

export function build() {
  return dashboard(
    'contimg-converter',
    'contimg / streaming converter',
    'Subband files grouped into observations and converted exactly once: states, backlog, latency, outcomes, disk.',
  )
    .withRow(row('Groups'))
    .withPanel(
      timeseries(
        'Groups by state (not yet converted)',
        [q(`max by (state) (contimg_converter_groups{state=~"${ACTIVE_STATES}"})`, '{{state}}')],
        { w: 12, stack: true, min: 0, decimals: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Backlog (ready or waiting to retry)',
        [q('max(contimg_converter_backlog_groups)', 'backlog')],
        {
          w: 6,
          min: 0,
          decimals: 0,
          thresholds: [[6, 'orange']],
          description: 'ContimgConverterBacklog fires when this has not been 0 for 30 minutes.',
        },
      ),
    )
    .withPanel(
      stat('Converted', [instant('max(contimg_converter_groups{state="converted"})', 'converted')], {
        w: 6,
        base: 'blue',
      }),
    )
    .withRow(row('Dispatch and conversion'))
    .withPanel(
      timeseries(
        'Dispatch latency (last subband → converter started)',
        [
          q('job:contimg_converter_dispatch_latency_seconds:p95_1h', 'p95 {{instance}}'),
          quantile(0.5, 'contimg_converter_dispatch_latency_seconds', 'le', 'p50'),
        ],
        { w: 12, unit: 's', thresholds: [[2, 'orange']] },
      ),
    )
    .withPanel(
      timeseries(
        'Conversion duration p95 (ok)',
        [q('job:contimg_converter_conversion_duration_seconds:p95_1h', '{{instance}}')],
        { w: 6, unit: 's', thresholds: [[309, 'orange']] },
      ),
    )
    .withPanel(
      timeseries('Converters running', [q('sum(contimg_converter_conversions_in_flight)', 'running')], {
        w: 6,
        min: 0,
        decimals: 0,
      }),
    )
    .withPanel(
      timeseries(
        'Conversion attempts per hour by outcome',
        [
          q(
            'sum by (outcome) (increase(contimg_converter_conversion_attempts_total[1h])) > 0',
            '{{outcome}}',
          ),
        ],
        { w: 12, bars: true, min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Conversions queue',
        [
          q('contimg:queue_jobs:max{queue="conversions", state=~"queued|running|dead"}', '{{state}}'),
          q('contimg:queue_oldest_age_seconds:max{queue="conversions"}', 'oldest due (s)'),
        ],
        { w: 12, min: 0 },
      ),
    )
    .withRow(row('Files'))
    .withPanel(
      timeseries(
        'Subband files per hour by result',
        [q('sum by (result) (increase(contimg_converter_files_total[1h])) > 0', '{{result}}')],
        { w: 12, bars: true, min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Files settling / invalid',
        [
          q('max(contimg_converter_files_settling)', 'settling'),
          q('max(contimg_converter_files_invalid)', 'invalid'),
        ],
        { w: 6, min: 0, decimals: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Scan duration p95 (quick pass, reconcile)',
        [quantile(0.95, 'contimg_converter_scan_duration_seconds', 'le, kind', '{{kind}}')],
        { w: 6, unit: 's' },
      ),
    )
    .withRow(row('Disk'))
    .withPanel(
      timeseries('Free space', [q('min by (path) (contimg_converter_disk_free_bytes)', '{{path}}')], {
        w: 12,
        unit: 'bytes',
        min: 0,
      }),
    )
    .withPanel(
      stateTimeline(
        'Dispatch paused',
        [q('max by (reason) (contimg_converter_dispatch_paused)', '{{reason}}')],
        {
          w: 12,
          mappings: valueText({ '0': ['dispatching', 'green'], '1': ['paused', 'red'] }),
        },
      ),
    );
}
