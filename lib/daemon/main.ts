// The process half of the daemon lifecycle, used by every daemons/<name>/main.ts and `contimg run`:
// arguments → config (exit 78) → logger → startDaemon (exit 78 on schema/config problems) → READY=1 and the
// watchdog → SIGTERM/SIGINT drain (a second signal forces exit) → exit 0. Uncaught errors exit 1.
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { configNotice, configScrubber, loadConfigFile, locateConfig, type Config } from '../config/index.js';
import { ConfigError, EXIT, SchemaVersionError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { SystemdNotifier } from '../systemd-notify.js';
import { startDaemon, type RunningDaemon } from './start.js';
import type { DaemonName, DaemonRun } from './types.js';

export interface MainOptions {
  name: DaemonName;
  run: DaemonRun;
  /** Default process.argv.slice(2). */
  argv?: string[];
}

/**
 * The config from --config, or the CLI's lookup order (lib/config/locate.ts; docs/cli.md): the systemd units
 * always pass --config, so the lookup only matters for a daemon started by hand. A file found by lookup is
 * named on stderr, once.
 */
function configFromArgs(argv: string[], name: DaemonName): Config {
  let explicit: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true });
    explicit = values.config;
  } catch (e) {
    throw new ConfigError(`bad arguments: ${(e as Error).message}`, ['(arguments): expected --config FILE']);
  }
  const located = locateConfig({ explicit, env: process.env, cwd: process.cwd() });
  const notice = configNotice(located);
  if (notice) process.stderr.write(`contimg-${name}: ${notice}\n`);
  return loadConfigFile(located.path);
}

function readVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string })
        .version;
    } catch {
      /* the other layout (source vs dist) */
    }
  }
  return '0.0.0';
}

/**
 * The watchdog's liveness probe: the event loop is not stalled and SELECT 1 answers within 1 s. Deliberately
 * not db.health().ok: a write lock held by someone else makes the daemon not ready, but it is still alive,
 * and a watchdog kill would not help.
 */
function livenessProbe(d: RunningDaemon, lagBoundMs: number): () => boolean {
  // 100 ms sampling: a stall still shows in full (the timer fires that late), and an idle daemon is not woken
  // 50 times a second (docs/performance.md).
  const lag = monitorEventLoopDelay({ resolution: 100 });
  lag.enable();
  const select1 = d.deps.state.reader.prepare('SELECT 1');
  return () => {
    const maxLagMs = lag.max / 1e6;
    lag.reset();
    const t0 = performance.now();
    let dbOk = true;
    try {
      select1.get();
    } catch {
      dbOk = false;
    }
    const dbLatencyMs = performance.now() - t0;
    const ok = maxLagMs < lagBoundMs && dbOk && dbLatencyMs < 1_000;
    if (!ok) d.deps.log.warn({ maxLagMs, dbOk, dbLatencyMs }, 'liveness probe failed');
    return ok;
  };
}

/** Start the daemon named `name` with its run(); never returns (the process exits). */
export async function runDaemonMain(opts: MainOptions): Promise<never> {
  let config: Config;
  try {
    config = configFromArgs(opts.argv ?? process.argv.slice(2), opts.name);
  } catch (e) {
    // No logger yet (the level is in the config): stderr, which journald keeps too.
    process.stderr.write(`contimg-${opts.name}: ${(e as Error).message}\n`);
    process.exit(e instanceof ConfigError ? EXIT.CONFIG : EXIT.FAILURE);
  }
  const version = readVersion();
  const log = createLogger({
    daemon: opts.name,
    level: config.log.level,
    version,
    scrubber: configScrubber(config),
  });
  // Children (converters, CASA) must not inherit the socket and speak for us.
  const notifier = new SystemdNotifier({ env: { ...process.env }, pid: process.pid, log });
  delete process.env.NOTIFY_SOCKET;
  const fatal = (what: string) => (e: unknown) => {
    log.fatal({ err: e }, what);
    void notifier.close().finally(() => process.exit(EXIT.FAILURE));
    setTimeout(() => process.exit(EXIT.FAILURE), 1_000).unref();
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));

  // Signals are handled from here on: one that arrives while starting is acted on once started.
  const signals = installSignals(log);
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({ name: opts.name, run: opts.run, config, log, notifier, version });
  } catch (e) {
    const code = e instanceof ConfigError || e instanceof SchemaVersionError ? EXIT.CONFIG : EXIT.FAILURE;
    log.fatal({ err: e, exitCode: code }, 'cannot start');
    if (e instanceof ConfigError) process.stderr.write(`contimg-${opts.name}: ${e.message}\n`);
    await notifier.close();
    process.exit(code);
  }
  daemon.done.then(
    () => {
      if (!daemon.deps.hardStop?.aborted && !stopRequested) {
        log.error('run() returned before shutdown was requested');
        void finish(daemon, notifier, EXIT.FAILURE, 'run() returned early');
      }
    },
    (e: unknown) => {
      if (stopRequested) return;
      // A daemon that reads a configured file at start (an IERS table, a calibrator list) reports a bad
      // one as a ConfigError: that is exit 78, so systemd does not restart it in a loop.
      const code = e instanceof ConfigError || e instanceof SchemaVersionError ? EXIT.CONFIG : EXIT.FAILURE;
      log.fatal({ err: e, exitCode: code }, 'run() failed');
      if (e instanceof ConfigError) process.stderr.write(`contimg-${opts.name}: ${e.message}\n`);
      void finish(daemon, notifier, code, 'run() failed');
    },
  );
  signals.attach((sig) => void finish(daemon, notifier, EXIT.OK, sig));
  if (stopRequested) return new Promise<never>(() => undefined);
  await notifier.ready(`ready on port ${daemon.port}`);
  if (stopRequested) return new Promise<never>(() => undefined);
  const bound = Math.max(1_000, (notifier.watchdogIntervalMs ?? 2_000) / 2);
  notifier.startWatchdog(livenessProbe(daemon, bound));
  log.info({ port: daemon.port, watchdogMs: notifier.watchdogIntervalMs ?? null }, 'ready');
  return new Promise<never>(() => undefined);
}

let stopRequested = false;

async function finish(
  d: RunningDaemon,
  notifier: SystemdNotifier,
  code: number,
  why: string,
): Promise<never> {
  stopRequested = true;
  const outcome = await d.stop(why);
  await notifier.close();
  process.exit(
    code !== EXIT.OK ? code : outcome === 'stuck' || outcome === 'failed' ? EXIT.FAILURE : EXIT.OK,
  );
}

/** SIGTERM/SIGINT: the first drains (once a handler is attached), a second exits at once. */
function installSignals(log: Logger): { attach(stop: (sig: NodeJS.Signals) => void): void } {
  let count = 0;
  let pending: NodeJS.Signals | undefined;
  let stop: ((sig: NodeJS.Signals) => void) | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    count++;
    if (count > 1) {
      log.warn({ signal: sig }, 'second signal: exiting now without draining');
      process.exit(EXIT.FAILURE);
    }
    if (stop) stop(sig);
    else pending = sig;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    attach(fn) {
      stop = fn;
      if (pending) fn(pending);
    },
  };
}
