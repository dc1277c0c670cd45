// A SchedulerContext outside the daemon (the CLI, benches): both databases opened as the daemon opens them,
// a private metrics registry, warnings to stderr. `contimg scheduler run` uses it to run a job through the
// very code the daemon runs.
import { env, stderr } from 'node:process';
import { pino } from 'pino';
import { systemClock, type Clock } from '../../lib/clock.js';
import type { Config } from '../../lib/config/index.js';
import { openDb, type Db } from '../../lib/db/index.js';
import { resolveHttpToken } from '../../lib/http/auth.js';
import { leaseOwner } from '../../lib/leases/index.js';
import { createLogger, silentLogger, type Logger } from '../../lib/log.js';
import { createRegistry } from '../../lib/metrics.js';
import { assertSchema } from '../../lib/migrations/index.js';
import { hostLabel, type SchedulerContext } from './context.js';
import { schedulerMetrics } from './metrics.js';

function open(config: Config, set: 'state' | 'pipeline'): Db {
  const db = openDb({
    name: set,
    path: config.databases[set],
    readonly: set === 'pipeline',
    withReader: set === 'state',
    busyTimeoutMs: config.databases.busyTimeoutMs,
    writeBudgetMs: config.databases.writeBudgetMs,
  });
  try {
    assertSchema(db, set);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** Open both databases, build the context, run fn, close. `quiet` drops the log (for --json output). */
export async function withSchedulerContext<T>(
  config: Config,
  fn: (ctx: SchedulerContext) => Promise<T>,
  opts: { quiet?: boolean; clock?: Clock; component?: string; log?: Logger } = {},
): Promise<T> {
  const state = open(config, 'state');
  let pipeline: Db;
  try {
    pipeline = open(config, 'pipeline');
  } catch (e) {
    state.close();
    throw e;
  }
  const log =
    opts.log ??
    (opts.quiet
      ? silentLogger()
      : createLogger({
          daemon: 'scheduler-cli',
          level: 'warn',
          destination: pino.destination({ fd: stderr.fd, sync: true }),
        }));
  try {
    return await fn({
      config,
      state,
      pipeline,
      clock: opts.clock ?? systemClock,
      log,
      metrics: schedulerMetrics(createRegistry({ daemon: 'scheduler', defaultMetrics: false })),
      env: { ...env },
      owner: leaseOwner(opts.component ?? 'scheduler-cli'),
      host: hostLabel(),
      daemonToken: resolveHttpToken(config.http),
    });
  } finally {
    pipeline.close();
    state.close();
  }
}
