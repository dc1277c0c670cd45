// What every daemon's run() receives. main.ts builds these through lib/daemon's lifecycle; tests build
// them directly (see test/helpers) and abort the signal to stop the daemon.
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import type { HttpRoutes, ReadinessCheck } from '../http/types.js';
import type { Timeouts } from '../timeouts.js';
import type { DaemonName } from './table.js';

export type { HttpRoutes, ReadinessCheck, RouteHandler, RouteOptions, RouteRequest } from '../http/types.js';

export {
  DAEMONS,
  DAEMON_NAMES,
  daemonPort,
  type DaemonName,
  type DaemonRow,
  type DaemonSection,
} from './table.js';

/**
 * Node flags of every daemon process (the systemd units' ExecStart and `contimg dev`). A 2 MB young-generation
 * semi-space instead of V8's 16 MB: start-up garbage otherwise keeps 20-35 MB of new space resident in an idle
 * daemon until a major GC, which may be minutes away (docs/performance.md "Idle footprint"). Daemons allocate
 * little on the JavaScript heap (images are typed arrays, off-heap), so the extra scavenges cost nothing
 * measurable. A runtime v8.setFlagsFromString() comes too late: the heap is configured at start.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=2'] as const;

export interface DaemonDeps {
  name: DaemonName;
  config: Config;
  log: Logger;
  clock: Clock;
  timeouts: Timeouts;
  /** The state database (read-write; this project's). */
  state: Db;
  /** The pipeline database (opened read-only; the imaging pipeline owns it). */
  pipeline: Db;
  /** This daemon's prom-client registry; daemon series go in daemons/<name>/metrics.ts. */
  registry: Registry;
  http: HttpRoutes;
  /** Add a check that /readyz runs; all must pass for 200. */
  addReadinessCheck(name: string, check: ReadinessCheck): void;
  /** systemd STATUS= line (a no-op without NOTIFY_SOCKET). */
  setStatus(text: string): void;
  /**
   * Aborted when the drain deadline (timeouts.drainMs after run()'s signal aborted) has passed: in-flight
   * work must stop now and release its leases. Absent in deps built by hand in tests.
   */
  hardStop?: AbortSignal;
}

/**
 * A daemon's body: start its loops, resolve once the signal has aborted and in-flight work has drained
 * (or been aborted and its leases released). Must never throw from a background loop: log, count, back off.
 */
export type DaemonRun = (deps: DaemonDeps, signal: AbortSignal) => Promise<void>;
