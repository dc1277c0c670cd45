// Every series of the scheduler: its jobs under contimg_scheduler_ (label `task`, the job's name: a `job` label
// would collide with the one Prometheus gives every scrape target), its findings under contimg_health_,
// contimg_flux_, contimg_validity_ and contimg_calibration_ (the names the dashboards and rules use), and the
// legacy systemd/docker status gauges of the old health API. Declared up front; label sets that come and go
// (targets, calibrators) are rewritten whole on each refresh so a removed target leaves no stale series.
import { JOB_NAMES } from '../../lib/config/sections/scheduler.js';
import { Counter, Gauge, Histogram, type Registry } from '../../lib/metrics.js';
import { retentionMetrics, type RetentionMetrics } from '../../lib/retention.js';
import { mosaicPlanMetrics, type MosaicPlanMetrics } from './mosaic/plan-metrics.js';
import { RUN_RESULTS } from './store.js';

export interface SchedulerMetrics {
  runs: Counter<'task' | 'result'>;
  duration: Histogram<'task'>;
  lastSuccess: Gauge<'task'>;
  lastRun: Gauge<'task'>;
  running: Gauge<'task'>;
  leader: Gauge;
  health: {
    targetStatus: Gauge<'kind' | 'target'>;
    targetUp: Gauge<'kind' | 'target'>;
    checkDuration: Histogram<'kind'>;
    overall: Gauge;
    systemdLegacy: Gauge<'service'>;
    dockerLegacy: Gauge<'container'>;
    diskFreeBytes: Gauge<'disk'>;
    diskSizeBytes: Gauge<'disk'>;
    diskFreeRatio: Gauge<'disk'>;
    gpuStatus: Gauge<'gpu'>;
    gpuTemperature: Gauge<'gpu'>;
    gpuUtilization: Gauge<'gpu'>;
    gpuMemoryUtilization: Gauge<'gpu'>;
    gpuMemoryUsed: Gauge<'gpu'>;
    gpuMemoryTotal: Gauge<'gpu'>;
    gpuPower: Gauge<'gpu'>;
  };
  flux: {
    ratio: Gauge<'calibrator'>;
    ratioLatest: Gauge<'calibrator'>;
    driftPercent: Gauge<'calibrator'>;
    phaseRms: Gauge<'calibrator'>;
    count: Gauge<'calibrator'>;
    stable: Gauge<'calibrator'>;
    lastMeasurement: Gauge<'calibrator'>;
    excludedRows: Gauge;
    newestMeasurement: Gauge;
  };
  validity: {
    activeSets: Gauge;
    untilExpiry: Gauge;
    expiringSoon: Gauge;
    expired: Gauge;
    nearestAge: Gauge;
    incomplete: Gauge;
    overlapConflicts: Gauge;
    lastValid: Gauge;
    registryUp: Gauge;
  };
  retention: RetentionMetrics;
  /** Mosaic planning and staleness (daemons/scheduler/mosaic/plan-metrics.ts). */
  mosaic: MosaicPlanMetrics;
}

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export function schedulerMetrics(registry: Registry): SchedulerMetrics {
  const r = [registry];
  const g = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: r });
  const s = 'contimg_scheduler_';
  const m: SchedulerMetrics = {
    runs: new Counter({
      name: `${s}job_runs_total`,
      help: 'Job runs by result (ok, error, timeout, skipped_overlap, crashed).',
      labelNames: ['task', 'result'],
      registers: r,
    }),
    duration: new Histogram({
      name: `${s}job_duration_seconds`,
      help: 'Wall time of job runs (skipped triggers excluded).',
      labelNames: ['task'],
      buckets: DURATION_BUCKETS,
      registers: r,
    }),
    lastSuccess: g(`${s}job_last_success_timestamp_seconds`, 'Start of the newest successful run (Unix s).', [
      'task',
    ]),
    lastRun: g(`${s}job_last_run_timestamp_seconds`, 'Start of the newest run of any result (Unix s).', [
      'task',
    ]),
    running: g(`${s}job_running`, '1 while a run of the job is in progress in this process.', ['task']),
    leader: g(`${s}leader`, '1 while this process holds the scheduler lease and fires the cron jobs.'),
    health: {
      targetStatus: g(
        'contimg_health_target_status',
        'Health target status: 0 ok, 1 warn, 2 crit, 3 unknown, 4 unavailable.',
        ['kind', 'target'],
      ),
      targetUp: g('contimg_health_target_up', '1 when the target is ok or warn.', ['kind', 'target']),
      checkDuration: new Histogram({
        name: 'contimg_health_check_duration_seconds',
        help: 'Time one health probe took.',
        labelNames: ['kind'],
        buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: r,
      }),
      overall: g('contimg_health_overall_status', 'Overall health: 0 healthy, 1 degraded, 2 unhealthy.'),
      systemdLegacy: g(
        'contimg_systemd_service_status',
        'Legacy unit status: 1 running, 0.5 degraded, 0 stopped, -1 error, -2 unknown.',
        ['service'],
      ),
      dockerLegacy: g(
        'contimg_docker_container_status',
        'Legacy container status: 1 running, 0.5 degraded, 0 stopped, -1 error, -2 unknown.',
        ['container'],
      ),
      diskFreeBytes: g('contimg_health_disk_free_bytes', 'Bytes available to the daemons.', ['disk']),
      diskSizeBytes: g('contimg_health_disk_size_bytes', 'Size of the file system.', ['disk']),
      diskFreeRatio: g('contimg_health_disk_free_ratio', 'Available / size.', ['disk']),
      gpuStatus: g('contimg_health_gpu_health_status', 'GPU status: 0 ok, 1 warn, 2 crit, 3 unknown.', [
        'gpu',
      ]),
      gpuTemperature: g('contimg_health_gpu_temperature_celsius', 'GPU temperature.', ['gpu']),
      gpuUtilization: g('contimg_health_gpu_utilization_percent', 'GPU utilisation.', ['gpu']),
      gpuMemoryUtilization: g('contimg_health_gpu_memory_utilization_percent', 'GPU memory used / total.', [
        'gpu',
      ]),
      gpuMemoryUsed: g('contimg_health_gpu_memory_used_bytes', 'GPU memory in use.', ['gpu']),
      gpuMemoryTotal: g('contimg_health_gpu_memory_total_bytes', 'GPU memory.', ['gpu']),
      gpuPower: g('contimg_health_gpu_power_watts', 'GPU power draw (NaN when the driver reports [N/A]).', [
        'gpu',
      ]),
    },
    flux: {
      ratio: g('contimg_flux_ratio', 'Mean observed/catalog flux ratio over the window.', ['calibrator']),
      ratioLatest: g('contimg_flux_ratio_latest', 'Newest observed/catalog flux ratio.', ['calibrator']),
      driftPercent: g('contimg_flux_drift_percent', 'Flux drift over the window: (max/min − 1) × 100.', [
        'calibrator',
      ]),
      phaseRms: g('contimg_flux_phase_rms_deg', 'Newest calibration phase RMS (degrees).', ['calibrator']),
      count: g('contimg_flux_measurements', 'Measurements in the window.', ['calibrator']),
      stable: g(
        'contimg_flux_is_stable',
        '1 when the mean ratio is within 0.9–1.1 and the spread below 0.2.',
        ['calibrator'],
      ),
      lastMeasurement: g('contimg_flux_last_measurement_timestamp_seconds', 'Newest measurement (Unix s).', [
        'calibrator',
      ]),
      excludedRows: g(
        'contimg_flux_excluded_rows',
        'Rows in the window left out (catalog flux or ratio ≤ 0).',
      ),
      newestMeasurement: g(
        'contimg_flux_newest_measurement_timestamp_seconds',
        'Newest row of calibration_monitoring, any calibrator (Unix s; NaN when empty).',
      ),
    },
    validity: {
      activeSets: g('contimg_validity_active_sets', 'Active calibration sets whose window covers now.'),
      untilExpiry: g(
        'contimg_validity_until_expiry_seconds',
        'Seconds until the last covering complete set ends (0 when none covers now; +Inf when open-ended).',
      ),
      expiringSoon: g('contimg_validity_expiring_sets', 'Covering sets that end within expiringWarnHours.'),
      expired: g('contimg_validity_expired_sets', 'Sets that ended within expiredLookbackHours.'),
      nearestAge: g(
        'contimg_validity_nearest_set_age_seconds',
        'Seconds between now and the midpoint of the nearest complete set (NaN when none).',
      ),
      incomplete: g('contimg_validity_incomplete_sets', 'Recent active sets missing a required table type.'),
      overlapConflicts: g(
        'contimg_validity_overlap_conflicts',
        'Pairs of recent overlapping sets whose refant or cal_field differ.',
      ),
      lastValid: g(
        'contimg_calibration_last_valid_timestamp_seconds',
        'created_at of the newest complete active calibration set (Unix s; NaN when none).',
      ),
      registryUp: g(
        'contimg_validity_registry_up',
        '1 when the last read of the calibration registry succeeded.',
      ),
    },
    retention: retentionMetrics(registry),
    mosaic: mosaicPlanMetrics(registry),
  };
  for (const job of JOB_NAMES) {
    for (const result of RUN_RESULTS) if (result !== 'running') m.runs.inc({ task: job, result }, 0);
    m.duration.zero({ task: job });
    m.running.set({ task: job }, 0);
  }
  m.leader.set(0);
  m.health.overall.set(0);
  for (const v of Object.values(m.validity)) v.set(Number.NaN);
  m.flux.excludedRows.set(0);
  m.flux.newestMeasurement.set(Number.NaN);
  return m;
}
