// Every contimg_pointing_ series, declared up front and initialised for its known label values.
import { Counter, Gauge, Histogram, type Registry } from '../../lib/metrics.js';

export const HEADER_RESULTS = ['ok', 'error', 'rejected'] as const;
export type HeaderResult = (typeof HEADER_RESULTS)[number];

export interface PointingMetrics {
  lst: Gauge<'kind'>;
  declination: Gauge;
  slewing: Gauge;
  decChanges: Counter;
  lastObservation: Gauge;
  headerReads: Counter<'result'>;
  headerReadSeconds: Histogram;
  upcomingTransits: Gauge;
  nextTransit: Gauge<'calibrator'>;
  inWindow: Gauge<'calibrator'>;
  windows: Counter<'calibrator' | 'has_data'>;
  transitsComputed: Counter<'model'>;
  dut1: Gauge;
  eopAge: Gauge;
  dataStale: Gauge;
  info: Gauge<'version' | 'transit_model' | 'site_lon' | 'site_lat'>;
  tickSeconds: Histogram;
}

/** `lstNow` is called at scrape time, so the LST gauges are current whenever Prometheus looks. */
export function pointingMetrics(
  registry: Registry,
  opts: { calibrators: readonly string[]; lstNow: () => { apparent: number; mean: number } },
): PointingMetrics {
  const p = 'contimg_pointing_';
  const r = [registry];
  const m: PointingMetrics = {
    lst: new Gauge({
      // Seconds, not hours: Prometheus names carry base units (promtool check metrics). Divide by 3600 for hours.
      name: `${p}local_sidereal_time_seconds`,
      help: 'Local sidereal time at scrape time, in sidereal seconds since sidereal midnight (0 to 86400), apparent and mean.',
      labelNames: ['kind'],
      registers: r,
      collect() {
        const l = opts.lstNow();
        this.set({ kind: 'apparent' }, l.apparent * 3600);
        this.set({ kind: 'mean' }, l.mean * 3600);
      },
    }),
    declination: new Gauge({
      name: `${p}declination_degrees`,
      help: 'Current stable pointing declination (NaN if unknown).',
      registers: r,
    }),
    slewing: new Gauge({
      name: `${p}slewing`,
      help: '1 while a declination change is unconfirmed.',
      registers: r,
    }),
    decChanges: new Counter({
      name: `${p}declination_changes_total`,
      help: 'Confirmed declination changes.',
      registers: r,
    }),
    lastObservation: new Gauge({
      name: `${p}last_observation_timestamp_seconds`,
      help: 'Mid-time (Unix) of the newest header read.',
      registers: r,
    }),
    headerReads: new Counter({
      name: `${p}header_reads_total`,
      help: 'sb00 header reads by result.',
      labelNames: ['result'],
      registers: r,
    }),
    headerReadSeconds: new Histogram({
      name: `${p}header_read_duration_seconds`,
      help: 'Time to read and interpret one sb00 header.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    }),
    upcomingTransits: new Gauge({
      name: `${p}upcoming_transits`,
      help: 'Transits ahead in the schedule (candidates for the current pointing plus the watch list); 0 = none to calibrate on.',
      registers: r,
    }),
    nextTransit: new Gauge({
      name: `${p}next_transit_timestamp_seconds`,
      help: 'Next transit (Unix seconds) per scheduled calibrator; time to go is this minus time().',
      labelNames: ['calibrator'],
      registers: r,
    }),
    inWindow: new Gauge({
      name: `${p}calibrator_in_window`,
      help: '1 while the calibrator is inside its active transit window at the current pointing.',
      labelNames: ['calibrator'],
      registers: r,
    }),
    windows: new Counter({
      name: `${p}transit_windows_total`,
      help: 'Transit windows closed, and whether data covered the transit.',
      labelNames: ['calibrator', 'has_data'],
      registers: r,
    }),
    transitsComputed: new Counter({
      name: `${p}transits_computed_total`,
      help: 'Schedule entries written (inserted or updated).',
      labelNames: ['model'],
      registers: r,
    }),
    dut1: new Gauge({ name: `${p}dut1_seconds`, help: 'UT1−UTC in use now (s).', registers: r }),
    eopAge: new Gauge({
      name: `${p}eop_age_seconds`,
      help: "Age of the IERS table's last measured UT1−UTC, in seconds (NaN for a configured constant).",
      registers: r,
    }),
    dataStale: new Gauge({
      name: `${p}data_stale`,
      help: '1 while no new header arrived within staleAfterS.',
      registers: r,
    }),
    info: new Gauge({
      name: `${p}info`,
      help: 'Configuration information; always 1.',
      labelNames: ['version', 'transit_model', 'site_lon', 'site_lat'],
      registers: r,
    }),
    tickSeconds: new Histogram({
      name: `${p}tick_duration_seconds`,
      help: 'Work per poll or schedule tick.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    }),
  };
  m.declination.set(Number.NaN);
  m.slewing.set(0);
  m.decChanges.inc(0);
  m.lastObservation.set(Number.NaN);
  m.dataStale.set(0);
  m.upcomingTransits.set(0);
  for (const result of HEADER_RESULTS) m.headerReads.inc({ result }, 0);
  for (const model of ['apparent', 'legacy']) m.transitsComputed.inc({ model }, 0);
  for (const c of opts.calibrators) {
    m.inWindow.set({ calibrator: c }, 0);
    for (const has of ['true', 'false']) m.windows.inc({ calibrator: c, has_data: has }, 0);
  }
  return m;
}
