// The one table of daemons. Everything that lists the daemons derives from it: the config (each section's
// default port, the distinct-ports check), `contimg run`, `contimg dev` and `contimg status`, the scheduler's
// health targets, the generated Prometheus configuration, the systemd unit tests and the docs test
// (test/integration/daemon/table.test.ts keeps ops/systemd and docs/ in step with it). Adding a daemon starts
// with a row here (docs/architecture.md, "Adding a daemon"). No imports: lib/config reads it.

export interface DaemonRow {
  /** Folder under daemons/ (and dist/daemons/): `daemons/<folder>/main.ts` and `run.ts`. */
  folder: string;
  /** The systemd unit in ops/systemd. */
  unit: string;
  /** Default HTTP port (/metrics, /healthz, /readyz, /ws, the JSON API); the config section may override it. */
  port: number;
  /** Every series the daemon declares itself starts with this (the shared contimg_db_*, contimg_queue_* … do not). */
  metricPrefix: string;
  /** The daemon's own config section. */
  section: string;
  /** Its page under docs/. */
  doc: string;
  /** One line for `contimg status`, `contimg dev` and the docs. */
  summary: string;
}

function row<N extends string, S extends string>(
  name: N,
  port: number,
  metricPrefix: string,
  section: S,
  summary: string,
) {
  return {
    folder: name,
    unit: `contimg-${name}.service` as const,
    port,
    metricPrefix,
    section,
    doc: `docs/${name}.md` as const,
    summary,
  } as const;
}

export const DAEMONS = {
  'streaming-converter': row(
    'streaming-converter',
    9310,
    'contimg_converter_',
    'streamingConverter',
    'groups the 16 subband files of an observation and converts each group exactly once',
  ),
  'pointing-monitor': row(
    'pointing-monitor',
    9311,
    'contimg_pointing_',
    'pointingMonitor',
    'sidereal time, calibrator transits and the pointing declination',
  ),
  scheduler: row(
    'scheduler',
    9312,
    'contimg_scheduler_',
    'scheduler',
    'cron jobs: health, calibration validity, calibrator flux, retention, its own watchdog',
  ),
  'alert-dispatcher': row(
    'alert-dispatcher',
    9313,
    'contimg_alerts_',
    'alertDispatcher',
    'routes alerts and delivers them to Slack, e-mail and webhooks',
  ),
  'thumbnail-worker': row(
    'thumbnail-worker',
    9314,
    'contimg_thumbnails_',
    'thumbnailWorker',
    'FITS images to PNG thumbnails and metadata',
  ),
} as const satisfies Record<string, DaemonRow>;

export type DaemonName = keyof typeof DAEMONS;
export type DaemonSection = (typeof DAEMONS)[DaemonName]['section'];

/** The daemons in table order. */
export const DAEMON_NAMES = Object.keys(DAEMONS) as DaemonName[];

/** The daemons' config sections in table order. */
export const DAEMON_SECTIONS = DAEMON_NAMES.map((n) => DAEMONS[n].section) as DaemonSection[];

/** A daemon's port in a parsed config (its section's `port`, which defaults to the table's). */
export function daemonPort(config: Record<DaemonSection, { port: number }>, name: DaemonName): number {
  return config[DAEMONS[name].section].port;
}
