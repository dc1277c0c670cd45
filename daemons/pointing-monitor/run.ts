// run(deps, signal) for the pointing monitor: build the monitor, then three loops (header poll, status
// tick, the window timer inside the monitor) until the signal aborts. Loops log, count, back off and go on.
import { pause } from '../../lib/clock.js';
import { backoffMs } from '../../lib/backoff.js';
import type { DaemonDeps, DaemonRun } from '../../lib/daemon/types.js';
import { pagingFrom } from '../../lib/paging.js';
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

async function loop(
  name: string,
  deps: DaemonDeps,
  signal: AbortSignal,
  everyMs: number,
  work: () => void,
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    const t0 = deps.clock.monotonic();
    try {
      work();
      failures = 0;
    } catch (e) {
      failures++;
      deps.log.error({ err: e, loop: name, failures }, 'pointing loop failed; backing off');
    }
    const wait = failures
      ? backoffMs({ strategy: 'exponential', baseMs: everyMs, maxMs: 10 * everyMs, jitter: 0.2 }, failures)
      : everyMs;
    const spent = deps.clock.monotonic() - t0;
    if (await pause(Math.max(0, wait - spent), signal)) break;
  }
}

export const run: DaemonRun = async (deps, signal) => {
  const cfg = deps.config.pointingMonitor;
  const monitor = createMonitor(deps);
  monitor.init();
  monitor.windows.matchRecent(cfg.backfillDays);
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
  const timed = (fn: () => void) => () => {
    const end = metrics.tickSeconds.startTimer();
    try {
      fn();
    } finally {
      end();
    }
  };
  try {
    await Promise.all([
      loop(
        'headers',
        deps,
        signal,
        cfg.pollIntervalS * 1000,
        timed(() => void monitor.poll()),
      ),
      loop(
        'status',
        deps,
        signal,
        cfg.statusIntervalS * 1000,
        timed(() => void monitor.statusTick()),
      ),
    ]);
  } finally {
    monitor.stop();
  }
};
