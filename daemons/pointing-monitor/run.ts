// run(deps, signal) for the pointing monitor: build the monitor, then three loops (header poll, status
// tick, the window timer inside the monitor) until the signal aborts. Loops (lib/loop) log, back off and go on.
import { pause } from '../../lib/clock.js';
import { backoffMs } from '../../lib/backoff.js';
import type { DaemonDeps, DaemonRun } from '../../lib/daemon/types.js';
import { DbBusyError } from '../../lib/errors.js';
import { LOOP_ERROR_BACKOFF, startLoop } from '../../lib/loop.js';
import { pagingFrom } from '../../lib/paging.js';
import { headerReader } from '../../lib/uvh5/reader.js';
import { pointingMetrics } from './metrics.js';
import { PointingMonitor } from './monitor.js';
import { pointingStatus } from './admin.js';
import { dut1Provider } from './sources.js';
import { transitView } from './views.js';

export const VERSION = '0.1.0';

export function createMonitor(deps: DaemonDeps): PointingMonitor {
  const cfg = deps.config.pointingMonitor;
  const site = {
    latDeg: deps.config.site.latDeg,
    lonDeg: deps.config.site.lonDeg,
    heightM: deps.config.site.heightM,
  };
  // The LST gauges are computed at scrape time; the monitor exists by then.
  const holder: { monitor?: PointingMonitor } = {};
  const metrics = pointingMetrics(deps.registry, {
    calibrators: cfg.watchCalibrators,
    lstNow: () => holder.monitor?.lstNow() ?? { apparent: Number.NaN, mean: Number.NaN },
  });
  metrics.info.set(
    {
      version: VERSION,
      transit_model: cfg.transitModel,
      site_lon: String(site.lonDeg),
      site_lat: String(site.latDeg),
    },
    1,
  );
  const monitor = new PointingMonitor({
    db: deps.state,
    log: deps.log.child({ component: 'pointing' }),
    clock: deps.clock,
    metrics,
    cfg,
    site,
    dut1: dut1Provider(deps.config.site),
    version: VERSION,
  });
  holder.monitor = monitor;
  return monitor;
}

/**
 * init() seeds calibrators and saves the schedule: writes. While another process holds the write lock they
 * fail fast (DbBusyError); wait for the lock here with backoff instead of failing the start (systemd would
 * restart us into the same lock). /healthz answers meanwhile and /readyz reports the stall.
 */
async function initWhenWritable(
  monitor: PointingMonitor,
  deps: DaemonDeps,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      monitor.init();
      return;
    } catch (e) {
      if (!(e instanceof DbBusyError)) throw e;
      const retryInMs = backoffMs(LOOP_ERROR_BACKOFF, attempt);
      if (attempt === 1)
        deps.log.warn({ err: e, retryInMs }, 'state database locked at start; waiting for it');
      if (await pause(retryInMs, signal)) return;
    }
  }
}

export const run: DaemonRun = async (deps, signal) => {
  const cfg = deps.config.pointingMonitor;
  const monitor = createMonitor(deps);
  await initWhenWritable(monitor, deps, signal);
  if (signal.aborted) return;
  try {
    monitor.windows.matchRecent(cfg.backfillDays);
  } catch (e) {
    // Not worth waiting for: new data match the last day again, and every closing window matches its own.
    deps.log.warn({ err: e }, 'matching past transits to data failed; continuing');
  }
  const metrics = monitor.o.metrics;
  deps.http.route('GET', '/api/pointing/status', () => deps.state.read(pointingStatus));
  deps.http.route('GET', '/api/pointing/transits', ({ url }) => {
    const { limit, offset } = pagingFrom(url.searchParams, { defaultLimit: 1000 });
    return monitor.schedule
      .filter((t) => t.transitMs >= deps.clock.now())
      .slice(offset, offset + limit)
      .map(transitView);
  });
  deps.addReadinessCheck('pointing', () => ({
    ok: monitor.calibrators.length > 0,
    detail: `${monitor.calibrators.length} calibrators`,
  }));
  deps.setStatus('pointing monitor running');
  const timed = (fn: () => void | Promise<void>) => async () => {
    const end = metrics.tickSeconds.startTimer();
    try {
      await fn();
    } finally {
      end();
    }
  };
  // The header reader loads the first time a header is pending (lib/uvh5/reader.ts); then the poll runs again.
  // A failed load throws into the loop's error backoff, and the headers stay pending.
  const pollHeaders = async (): Promise<void> => {
    monitor.poll();
    if (!monitor.wantsReader) return;
    await headerReader.load();
    monitor.poll();
  };
  // A failing tick (the database locked by another process) is logged and retried with backoff from the
  // loop's own interval up to ten times it, at most a minute (so the monitor catches up soon after a lock).
  const every = (name: string, everyMs: number, work: () => void | Promise<void>) =>
    startLoop({
      name,
      everyMs,
      signal,
      clock: deps.clock,
      log: deps.log,
      tick: timed(work),
      errorBackoff: {
        strategy: 'exponential',
        baseMs: everyMs,
        maxMs: Math.max(everyMs, Math.min(10 * everyMs, 60_000)),
        jitter: 0.2,
      },
    }).done;
  try {
    await Promise.all([
      every('headers', cfg.pollIntervalS * 1000, pollHeaders),
      every('status', cfg.statusIntervalS * 1000, () => void monitor.statusTick()),
    ]);
  } finally {
    monitor.stop();
  }
};
