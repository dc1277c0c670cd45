// The scheduler: its jobs (leader, last success, runs, durations), the health targets it probes, the
// calibration validity it checks and the calibrator flux ratios and their drift.
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

export const file = 'contimg-scheduler.json';

const TARGET_STATUS = valueText({
  '0': ['ok', 'green'],
  '1': ['warn', 'orange'],
  '2': ['crit', 'red'],
  '3': ['unknown', 'purple'],
  '4': ['unavailable', 'text'],
});

export function build() {
  return dashboard(
    'contimg-scheduler',
    'contimg / scheduler',
    'The scheduler: jobs and their last success, health targets, calibration validity, calibrator flux ratios and drift.',
  )
    .withRow(row('Jobs'))
    .withPanel(
      stat('Leader', [instant('contimg_scheduler_leader', '{{instance}}')], {
        w: 6,
        base: 'orange',
        thresholds: [[1, 'green']],
        mappings: valueText({ '1': ['leading', 'green'], '0': ['standby', 'orange'] }),
        description:
          'Only the scheduler holding the lease runs the jobs; a standby takes over when it expires.',
      }),
    )
    .withPanel(
      table(
        'Since the last successful run',
        [
          instant(
            'time() - max by (task) (contimg_scheduler_job_last_success_timestamp_seconds{job="scheduler"})',
            '{{task}}',
          ),
        ],
        {
          w: 18,
          unit: 'dtdurations',
          description:
            'ContimgSchedulerHealthStale fires after 20 minutes without a successful health run; ContimgSchedulerJobStale after three periods of validity or flux.',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Runs per hour by result',
        [
          q(
            'sum by (task, result) (increase(contimg_scheduler_job_runs_total{job="scheduler"}[1h])) > 0',
            '{{task}} {{result}}',
          ),
        ],
        { w: 12, min: 0, bars: true },
      ),
    )
    .withPanel(
      timeseries(
        'Run duration p95',
        [
          q(
            'histogram_quantile(0.95, sum by (task, le) (rate(contimg_scheduler_job_duration_seconds_bucket{job="scheduler"}[1h])))',
            '{{task}}',
          ),
        ],
        { w: 12, unit: 's', min: 0 },
      ),
    )
    .withRow(row('Health targets'))
    .withPanel(
      stat('Overall health', [instant('contimg_health_overall_status', 'overall')], {
        w: 6,
        mappings: valueText({
          '0': ['healthy', 'green'],
          '1': ['degraded', 'orange'],
          '2': ['unhealthy', 'red'],
        }),
      }),
    )
    .withPanel(
      table(
        'Targets not ok now',
        [instant('max by (kind, target) (contimg_health_target_status) > 0', '{{kind}} {{target}}')],
        {
          w: 18,
          h: 5,
          mappings: TARGET_STATUS,
          description:
            '1 warn, 2 crit, 3 unknown (the probe failed), 4 unavailable (no nvidia-smi, no docker).',
        },
      ),
    )
    .withPanel(
      stateTimeline(
        'Health targets',
        [q('max by (kind, target) (contimg_health_target_status)', '{{kind}} {{target}}')],
        { w: 24, h: 10, mappings: TARGET_STATUS },
      ),
    )
    .withPanel(
      timeseries('Disk free', [q('min by (disk) (contimg_health_disk_free_ratio)', '{{disk}}')], {
        w: 12,
        unit: 'percentunit',
        min: 0,
        max: 1,
        base: 'red',
        thresholds: [
          [0.15, 'orange'],
          [0.25, 'green'],
        ],
      }),
    )
    .withPanel(
      timeseries(
        'Probe duration p95 by kind',
        [quantile(0.95, 'contimg_health_check_duration_seconds', 'kind, le', '{{kind}}')],
        { w: 12, unit: 's', min: 0 },
      ),
    )
    .withRow(row('Calibration validity'))
    .withPanel(
      stat('Active sets covering now', [instant('contimg_validity_active_sets', 'sets')], {
        w: 6,
        base: 'red',
        thresholds: [[1, 'green']],
      }),
    )
    .withPanel(
      stat('Until the covering set expires', [instant('contimg_validity_until_expiry_seconds', 'expiry')], {
        w: 6,
        unit: 's',
        base: 'red',
        thresholds: [[1, 'green']],
      }),
    )
    .withPanel(
      stat(
        'Since the newest complete set',
        [instant('time() - contimg_calibration_last_valid_timestamp_seconds', 'age')],
        {
          w: 6,
          unit: 's',
          thresholds: [
            [26 * 3600, 'orange'],
            [48 * 3600, 'red'],
          ],
          description: 'CalibrationStale: warning after 26 h, critical after 48 h (scheduler.validity).',
        },
      ),
    )
    .withPanel(
      stat(
        'Registry problems',
        [
          instant('contimg_validity_incomplete_sets', 'incomplete'),
          instant('contimg_validity_overlap_conflicts', 'conflicts'),
          instant('1 - contimg_validity_registry_up', 'unreadable'),
        ],
        { w: 6, thresholds: [[1, 'orange']] },
      ),
    )
    .withPanel(
      timeseries(
        'Validity age',
        [
          q('contimg_validity_nearest_set_age_seconds', 'nearest set (midpoint)'),
          q('time() - contimg_calibration_last_valid_timestamp_seconds', 'newest complete set'),
        ],
        { w: 12, unit: 's', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Sets expiring and expired',
        [
          q('contimg_validity_expiring_sets', 'expiring soon'),
          q('contimg_validity_expired_sets', 'expired (24 h)'),
        ],
        { w: 12, min: 0, decimals: 0 },
      ),
    )
    .withRow(row('Calibrator flux'))
    .withPanel(
      timeseries(
        'Flux ratio (observed / catalog)',
        [
          q('contimg_flux_ratio', '{{calibrator}} mean'),
          q('contimg_flux_ratio_latest', '{{calibrator}} newest'),
        ],
        {
          w: 12,
          decimals: 3,
          description:
            'Window mean (scheduler.flux.windowDays) and the newest measurement; 1 is the catalog.',
        },
      ),
    )
    .withPanel(
      timeseries('Flux drift', [q('contimg_flux_drift_percent', '{{calibrator}}')], {
        w: 12,
        unit: 'percent',
        min: 0,
        thresholds: [
          [20, 'orange'],
          [40, 'red'],
        ],
        description:
          'CalibratorFluxDrift: (max/min − 1) × 100 over the window; warning above 20 %, critical above 40 %.',
      }),
    )
    .withPanel(
      table(
        'Per calibrator',
        [
          instant('contimg_flux_measurements'),
          instant('contimg_flux_drift_percent'),
          instant('contimg_flux_is_stable'),
          instant('contimg_flux_phase_rms_deg'),
        ],
        { w: 12, columns: ['measurements', 'drift %', 'stable', 'phase rms (deg)'] },
      ),
    )
    .withPanel(
      timeseries(
        'Since the newest flux measurement',
        [
          q('time() - contimg_flux_newest_measurement_timestamp_seconds', 'any calibrator'),
          q('time() - contimg_flux_last_measurement_timestamp_seconds', '{{calibrator}}'),
        ],
        {
          w: 12,
          unit: 's',
          min: 0,
          thresholds: [[36 * 3600, 'orange']],
          description: 'CalibratorFluxNoData after 36 h without a row (scheduler.flux.noDataHours).',
        },
      ),
    );
}
