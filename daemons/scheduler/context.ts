// What every job gets (the daemon, `contimg scheduler run` and the benches build it the same way) and what a
// job hands back: a result, a summary for its job_runs row, and the writes of its findings, which the runner
// commits in the same transaction that finishes the run.
import os from 'node:os';
import type { Clock } from '../../lib/clock.js';
import type { Config } from '../../lib/config/index.js';
import type { Connection, Db } from '../../lib/db/index.js';
import type { Logger } from '../../lib/log.js';
import type { SchedulerMetrics } from './metrics.js';

export interface SchedulerContext {
  config: Config;
  /** The state database (read-write). */
  state: Db;
  /** The pipeline database (read-only): caltables, calibration_monitoring. */
  pipeline: Db;
  clock: Clock;
  log: Logger;
  metrics: SchedulerMetrics;
  /** Environment of the probe commands (PATH finds systemctl, docker, nvidia-smi). */
  env: NodeJS.ProcessEnv;
  /** This process's lease owner id (lib/leases format). */
  owner: string;
  /** The `host` label of every alert the scheduler raises. */
  host: string;
  /** The http token the daemons require (sent to their /readyz), if any. */
  daemonToken?: string;
}

export interface JobOutcome {
  result: 'ok' | 'error';
  /** Stored as the run's summary_json: the findings in brief. */
  summary: unknown;
  error?: string;
  /**
   * The findings' writes (alerts, health state), run inside the transaction that finishes the run. A job
   * whose findings are read inside that transaction (the watchdog) returns `{ summary }` from here instead.
   */
  apply?: (conn: Connection, nowMs: number) => void | { summary: unknown };
  /** After the commit: set the gauges this run's findings feed. */
  afterCommit?: () => void;
}

export type JobFn = (ctx: SchedulerContext, signal: AbortSignal) => Promise<JobOutcome>;

export const hostLabel = (): string => os.hostname();
