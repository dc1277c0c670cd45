// One prom-client Registry per daemon. Every series is declared up front and initialised for its known
// label values, so dashboards see zeros instead of gaps. Platform series live here; each daemon adds its
// own in daemons/<name>/metrics.ts.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export function createRegistry(opts: {
  daemon: string;
  version?: string;
  defaultMetrics?: boolean;
}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) {
    // The event-loop delay histogram samples with a 100 ms timer, not prom-client's 10 ms: a 10 ms timer wakes an
    // idle daemon 100 times a second (about 0.15 % of a core, docs/performance.md), and a stall still shows
    // in full (the timer fires that much late).
    collectDefaultMetrics({ register: registry, prefix: 'contimg_', eventLoopMonitoringPrecision: 100 });
    // prom-client names three gauges `…_total`, which promtool check metrics rejects (only counters end in
    // _total); they are the sums of the per-type gauges contimg_nodejs_active_{handles,requests,resources}.
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`contimg_${name}`);
  }
  const info = new Gauge({
    name: 'contimg_build_info',
    help: 'Build information; always 1.',
    labelNames: ['daemon', 'version', 'node'],
    registers: [registry],
  });
  info.set({ daemon: opts.daemon, version: opts.version ?? '0.0.0', node: process.versions.node }, 1);
  return registry;
}

/** Get a metric already registered under this name, or create it; lets two components share a series. */
export function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export const DB_ERROR_CODES = ['busy', 'constraint', 'full', 'ioerr', 'corrupt', 'other'] as const;
export type DbErrorCode = (typeof DB_ERROR_CODES)[number];

export interface DbMetrics {
  txSeconds: Histogram<'db' | 'kind'>;
  lockWaitSeconds: Histogram<'db'>;
  busyTimeouts: Counter<'db'>;
  errors: Counter<'db' | 'code'>;
  walBytes: Gauge<'db'>;
  connections: Gauge<'db' | 'role'>;
  checkpoints: Counter<'db' | 'mode' | 'result'>;
  writeStallSeconds: Gauge<'db'>;
  /** Each open Db registers how to read its stall here; the gauge reads them at scrape time. */
  stallSources: Map<string, () => number>;
}

const dbMetricsByRegistry = new WeakMap<Registry, DbMetrics>();

export function dbMetrics(registry: Registry, dbNames: readonly string[]): DbMetrics {
  const m = dbMetricsByRegistry.get(registry) ?? declareDbMetrics(registry);
  dbMetricsByRegistry.set(registry, m);
  for (const db of dbNames) {
    for (const kind of ['write', 'read']) m.txSeconds.zero({ db, kind });
    m.lockWaitSeconds.zero({ db });
    m.busyTimeouts.inc({ db }, 0);
    m.walBytes.set({ db }, 0);
    m.writeStallSeconds.set({ db }, 0);
    for (const code of DB_ERROR_CODES) m.errors.inc({ db, code }, 0);
    for (const role of ['writer', 'reader']) m.connections.set({ db, role }, 0);
    for (const mode of ['passive', 'restart', 'truncate'])
      for (const result of ['ok', 'busy']) m.checkpoints.inc({ db, mode, result }, 0);
  }
  return m;
}

function declareDbMetrics(registry: Registry): DbMetrics {
  const stallSources = new Map<string, () => number>();
  return {
    txSeconds: new Histogram({
      name: 'contimg_db_tx_seconds',
      help: 'Duration of database transactions, by kind (write = BEGIN IMMEDIATE, read = deferred).',
      labelNames: ['db', 'kind'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    lockWaitSeconds: new Histogram({
      name: 'contimg_db_lock_wait_seconds',
      help: 'Time spent waiting for the write lock before a write transaction began.',
      labelNames: ['db'],
      buckets: [0.0001, 0.001, 0.01, 0.1, 0.5, 1, 5, 15],
      registers: [registry],
    }),
    busyTimeouts: new Counter({
      name: 'contimg_db_busy_timeouts_total',
      help: 'Writes that gave up after the write budget because the lock stayed busy ("pool exhaustion").',
      labelNames: ['db'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'contimg_db_errors_total',
      help: 'Database errors by class.',
      labelNames: ['db', 'code'],
      registers: [registry],
    }),
    walBytes: new Gauge({
      name: 'contimg_db_wal_bytes',
      help: 'Size of the -wal file.',
      labelNames: ['db'],
      registers: [registry],
    }),
    connections: new Gauge({
      name: 'contimg_db_connections',
      help: 'Open connections by role (one writer, at most one reader per process).',
      labelNames: ['db', 'role'],
      registers: [registry],
    }),
    checkpoints: new Counter({
      name: 'contimg_db_checkpoints_total',
      help: 'WAL checkpoints run by the WAL guard, by mode and whether a reader kept it from completing.',
      labelNames: ['db', 'mode', 'result'],
      registers: [registry],
    }),
    writeStallSeconds: new Gauge({
      name: 'contimg_db_write_stall_seconds',
      help:
        'How long writes in this process have gone without the write lock (from the oldest write still ' +
        'waiting or failing since the last one that got it); 0 when writes go through.',
      labelNames: ['db'],
      registers: [registry],
      collect() {
        for (const [db, read] of stallSources) this.set({ db }, read());
      },
    }),
    stallSources,
  };
}
