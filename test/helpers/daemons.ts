// The daemons of this build run in-process on free ports (port 0), for tests that talk to their HTTP APIs.
import type { Config } from '../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../lib/daemon/index.js';
import type { DaemonName, DaemonRun } from '../../lib/daemon/types.js';
import { silentLogger } from '../../lib/log.js';
import { run as converterRun } from '../../daemons/streaming-converter/run.js';
import { run as pointingRun } from '../../daemons/pointing-monitor/run.js';
import { run as thumbnailRun } from '../../daemons/thumbnail-worker/run.js';

const RUNS: [DaemonName, DaemonRun][] = [
  ['streaming-converter', converterRun],
  ['pointing-monitor', pointingRun],
  ['thumbnail-worker', thumbnailRun],
];

/** Start every built daemon on one config; the caller stops them (RunningDaemon.stop is idempotent). */
export async function startDaemons(config: Config): Promise<Partial<Record<DaemonName, RunningDaemon>>> {
  const out: Partial<Record<DaemonName, RunningDaemon>> = {};
  for (const [name, run] of RUNS)
    out[name] = await startDaemon({ name, run, config, log: silentLogger(), port: 0 });
  return out;
}
