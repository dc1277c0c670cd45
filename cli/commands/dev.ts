// contimg dev (what `npm start` runs after the build): the whole host on a laptop. Creates ./var (or
// --data-dir), writes a config there if none exists, migrates both databases, starts every built daemon
// (dist/daemons/*/main.js) as its own child process as systemd would, runs the subband simulator at a fast
// cadence with `contimg convert-check` as the converter, prints where each daemon's /metrics and /ws are,
// and on Ctrl-C/SIGTERM (or after --for-seconds) stops the simulator, sends SIGTERM to every daemon and
// waits for them to exit. With --with-prometheus it also runs Prometheus (Debian's package, from PATH) on
// loopback with our rules, scraping the daemons every 5 s, its data under <data dir>/prometheus. The
// simulator also plays the pipeline's calibration (a week of calibration sets and flux measurements, then more
// as time goes on; --fault flux-drift|stale-calibration|missing-table), and the scheduler starts once the
// other daemons answer /readyz, so its first health run finds them up. Its first line is the status page's
// URL; daemon log lines are pretty at a terminal, JSON otherwise (cli/dev-output.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import type { Config } from '../../lib/config/index.js';
import { DAEMON_NODE_FLAGS, DAEMONS, daemonPort, type DaemonName } from '../../lib/daemon/types.js';
import type { Db } from '../../lib/db/index.js';
import { UsageError } from '../util.js';
import type * as DevOutput from '../dev-output.js';
import { CONVERT_CHECK_ARGS } from '../../lib/config/convert-check.js';
import { MOSAIC_BUILD_ARGS } from '../../lib/config/mosaic-build-args.js';
import { devAlertDispatcher, devMailPort, simulateFault, startMailCapture } from '../dev-alerts.js';
import type { PrometheusProcess } from '../prometheus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/cli/commands or cli/commands. */
const ROOT = here.includes(`${path.sep}dist${path.sep}`)
  ? path.resolve(here, '..', '..', '..')
  : path.resolve(here, '..', '..');
const DIST = path.join(ROOT, 'dist');
const CLI = path.join(DIST, 'cli', 'contimg.js');

interface DevOpts {
  dataDir: string;
  portBase?: string;
  cadenceS: string;
  groups?: string;
  forSeconds?: string;
  simulate: boolean;
  /** --no-demo-alert turns off the simulated alert that shows delivery (a log line and an e-mail). */
  demoAlert: boolean;
  withPrometheus?: boolean;
  prometheusPort: string;
  fault: string[];
}

const DAEMON_ORDER = Object.keys(DAEMONS) as DaemonName[];

/** Ports portBase, portBase+1, … in daemon-table order (undefined: the configured defaults). */
function portsFrom(portBase: number | undefined): Partial<Record<DaemonName, number>> {
  if (portBase === undefined) return {};
  return Object.fromEntries(DAEMON_ORDER.map((name, i) => [name, portBase + i]));
}

/**
 * The scheduler on a laptop: health every minute over what runs here (the other built daemons' /readyz, both
 * databases, the data folder's disk; no systemd units, since dev runs the daemons itself; GPUs only where
 * nvidia-smi exists), validity every 2 minutes and flux every 5, so a newcomer sees findings within minutes.
 */
function devScheduler(ports: Partial<Record<DaemonName, number>>): Record<string, unknown> {
  return {
    jobs: {
      health: { cron: '* * * * *', timeoutS: 50 },
      validity: { cron: '*/2 * * * *' },
      flux: { cron: '*/5 * * * *', timeoutS: 120 },
    },
    health: {
      http: builtDaemons()
        .filter((d) => d !== 'scheduler')
        .map((d) => ({
          name: d,
          url: `http://127.0.0.1:${ports[d] ?? DAEMONS[d].port}/readyz`,
          critical: true,
          sendToken: true,
        })),
      systemd: { units: [] },
    },
  };
}

/**
 * The config `contimg dev` writes on first run: everything under the data folder (relative paths), fast
 * local timings, convert-check as the converter. The ops tests and benches start their daemons on it too.
 */
export function devConfig(ports: Partial<Record<DaemonName, number>> = {}): Record<string, unknown> {
  const port = (name: DaemonName) => (ports[name] === undefined ? {} : { port: ports[name] });
  return {
    dataDir: '.',
    databases: { state: 'state.sqlite3', pipeline: 'pipeline.sqlite3' },
    log: { level: 'info' },
    streamingConverter: {
      ...port('streaming-converter'),
      settleS: 2,
      scanIntervalS: 10,
      groupTimeoutS: 120,
      minFreeGb: 1,
      converter: {
        argv: [process.execPath, CLI, ...CONVERT_CHECK_ARGS],
        outputName: '{group}.json',
        timeoutS: 120,
      },
    },
    pointingMonitor: { ...port('pointing-monitor') },
    scheduler: { ...port('scheduler'), ...devScheduler(ports), mosaic: devMosaic() },
    alertDispatcher: devAlertDispatcher(port('alert-dispatcher'), devMailPort(ports)),
    thumbnailWorker: { ...port('thumbnail-worker') },
  };
}

/**
 * Mosaics on a laptop: quicklook planning every 2 minutes over the simulator's images in tiles of 6 images
 * advancing by 4 (the telescope's 10 by 8 would need 18 observations, 1.5 h, before the first tile closes),
 * built by the reference builder from this checkout, with the disk floors of a laptop.
 */
function devMosaic(): Record<string, unknown> {
  return {
    tiers: {
      quicklook: { cron: '*/2 * * * *', maxImages: 6, minImages: 3, newImages: 4, overlapImages: 2 },
    },
    builder: {
      argv: [process.execPath, CLI, ...MOSAIC_BUILD_ARGS],
      minFreeGbOutput: 1,
      minFreeGbScratch: 1,
      memoryMaxGb: 2,
      cpus: 1,
    },
  };
}

/** The daemons of the daemon table whose build exists (dist/daemons/<name>/main.js), in table order. */
function builtDaemons(): DaemonName[] {
  return DAEMON_ORDER.filter((d) => fs.existsSync(path.join(DIST, 'daemons', DAEMONS[d].folder, 'main.js')));
}

/** The line formatting (pino-pretty), loaded by the action only: `contimg completion` registers dev too. */
let output: typeof DevOutput;

/** Each line of a daemon's output to `out`, pretty when `out` is a terminal (cli/dev-output.ts). */
function forwardLines(name: string, stream: NodeJS.ReadableStream, out: NodeJS.WriteStream): void {
  const format = output.lineFormatter(name, out.isTTY ? { colorize: out.hasColors?.() ?? false } : null);
  let buf = '';
  stream.on('data', (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) out.write(format(l));
  });
}

function num(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`${flag}: expected a non-negative number, got "${text}"`);
  return n;
}

/** Write the config (first run) and migrate; what it did is returned as lines, printed after the page URL. */
async function prepare(o: DevOpts): Promise<{ configFile: string; notes: string[] }> {
  const notes: string[] = [];
  const dataDir = path.resolve(o.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(dataDir, 'contimg.yaml');
  if (!fs.existsSync(configFile)) {
    const { default: YAML } = await import('yaml');
    fs.writeFileSync(configFile, YAML.stringify(devConfig(portsFrom(num(o.portBase, '--port-base')))));
    notes.push(`dev: wrote ${configFile}\n`);
  }
  const { loadConfigFile } = await import('../../lib/config/index.js');
  const { migrateUp } = await import('../../lib/migrations/index.js');
  const cfg = loadConfigFile(configFile);
  for (const set of ['state', 'pipeline'] as const) {
    const r = await migrateUp({ path: cfg.databases[set], set, backup: false });
    notes.push(`dev: ${set} database ${r.path} at version ${r.to}\n`);
  }
  return { configFile, notes };
}

interface Running {
  children: Map<string, ChildProcess>;
  exits: Promise<void>[];
  /** A daemon that dies before we asked it to stop is a failure: reported at once and in dev's exit code. */
  failures: string[];
  stopping: { now: boolean };
}

/**
 * Start each daemon as its own child (as systemd would) and print where its /metrics and /ws are; `into`
 * collects daemons started in several steps.
 */
function startDaemons(
  names: DaemonName[],
  configFile: string,
  cfg: Config,
  into: Running = { children: new Map(), exits: [], failures: [], stopping: { now: false } },
): Running {
  const { children, exits, failures, stopping } = into;
  for (const name of names) {
    // Its own process group, so a terminal's Ctrl-C reaches dev alone and each daemon gets exactly one
    // SIGTERM from dev (a second signal means "exit without draining"); dev-guard ties its life to dev's
    // through the stdin pipe (cli/dev-guard.ts).
    const child = spawn(
      process.execPath,
      [
        ...DAEMON_NODE_FLAGS,
        '--import',
        pathToFileURL(path.join(DIST, 'cli', 'dev-guard.js')).href,
        path.join(DIST, 'daemons', DAEMONS[name].folder, 'main.js'),
        '--config',
        configFile,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    forwardLines(name, child.stdout!, process.stdout);
    forwardLines(name, child.stderr!, process.stderr);
    children.set(name, child);
    exits.push(
      new Promise((r) => {
        child.once('error', (e) => {
          failures.push(`${name}: ${e.message}`);
          process.stderr.write(`dev: cannot run ${name}: ${e.message}\n`);
          children.delete(name);
          r();
        });
        child.once('exit', (code, signal) => {
          const how = signal ?? `code ${code}`;
          if (!stopping.now || code !== 0) failures.push(`${name} exited (${how})`);
          process.stdout.write(`dev: ${name} exited (${how})${stopping.now ? '' : ' unexpectedly'}\n`);
          children.delete(name);
          r();
        });
      }),
    );
    const port = daemonPort(cfg, name);
    const host = cfg.http.host;
    process.stdout.write(
      `dev: started ${name} (pid ${child.pid}): http://${host}:${port}/metrics  ws://${host}:${port}/ws\n`,
    );
  }
  return into;
}

/**
 * Wait (at most timeoutMs, and not past a stop) until each named daemon that is still running answers
 * /readyz with 200.
 */
async function waitReady(
  names: DaemonName[],
  cfg: Config,
  timeoutMs: number,
  signal: AbortSignal,
  alive: ReadonlyMap<string, ChildProcess>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ready = async (name: DaemonName): Promise<boolean> => {
    const port = daemonPort(cfg, name);
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false;
    }
  };
  let pending = names;
  while (pending.length && Date.now() < deadline && !signal.aborted) {
    const up = await Promise.all(pending.map(ready));
    pending = pending.filter((n, i) => !up[i] && alive.has(n));
    if (pending.length) await new Promise((r) => setTimeout(r, 200));
  }
}

export function register(program: Command): void {
  program
    .command('dev')
    .description('run every built daemon plus the simulator locally (what `npm start` does)')
    .option('--data-dir <dir>', 'where config, databases and files go', 'var')
    .option('--port-base <port>', 'first of five consecutive ports (only when writing a new config)')
    .option('--cadence-s <s>', 'wall-clock seconds between simulated observations', '10')
    .option('--groups <n>', 'stop simulating after this many observations (default: until stopped)')
    .option('--for-seconds <s>', 'stop everything after this long (for tests and demos)')
    .option('--no-simulate', 'do not run the simulator')
    .option('--no-demo-alert', 'do not raise the simulated alert that shows delivery (log line and e-mail)')
    .option('--with-prometheus', 'also run Prometheus (from PATH) with our rules, scraping the daemons')
    .option('--prometheus-port <port>', 'loopback port for --with-prometheus', '9390')
    .option(
      '--fault <kind>',
      'a calibration fault for the simulator: flux-drift, stale-calibration, missing-table',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .action(async (o: DevOpts) => {
      output = await import('../dev-output.js');
      if (!fs.existsSync(CLI))
        throw new UsageError(`${CLI} is missing: run \`npm run build\` first (npm start does)`);
      const { isCalibrationFault } = await import('../../lib/sim/calibration.js');
      const bad = o.fault.filter((f) => !isCalibrationFault(f));
      if (bad.length)
        throw new UsageError(
          `--fault: unknown ${bad.join(', ')} (flux-drift, stale-calibration, missing-table)`,
        );
      const prometheusBinary = o.withPrometheus ? await prometheusOnPath() : undefined;
      const { configFile, notes } = await prepare(o);
      const { loadConfigFile } = await import('../../lib/config/index.js');
      const cfg = loadConfigFile(configFile);
      const names = builtDaemons();
      // The page first: it is what a person opens (served by every daemon; the first one started here).
      const pageOn = names.find((d) => d !== 'scheduler') ?? names[0];
      if (pageOn) {
        const port = (cfg[DAEMONS[pageOn].section] as { port: number }).port;
        const tokenRequired = cfg.http.token !== undefined || cfg.http.tokenFile !== undefined;
        process.stdout.write(output.statusPageLine(cfg.http.host, port, tokenRequired));
      }
      for (const n of notes) process.stdout.write(n);
      // The pipeline's calibration of the past week, before the scheduler's first checks look at it.
      if (o.simulate) await calibrate(cfg, o, Date.now() - 8 * 86_400_000);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      const forS = num(o.forSeconds, '--for-seconds');
      const timer = forS === undefined ? undefined : setTimeout(onSignal, forS * 1000);
      const mail = await startMailCapture(cfg, process.stdout);
      const first = names.filter((d) => d !== 'scheduler');
      const running = startDaemons(first, configFile, cfg);
      if (names.includes('scheduler')) {
        await waitReady(first, cfg, 15_000, stop.signal, running.children);
        if (!stop.signal.aborted) startDaemons(['scheduler'], configFile, cfg, running);
      }
      const { children, exits, failures, stopping } = running;
      let prometheus: PrometheusProcess | undefined;
      if (prometheusBinary) {
        try {
          prometheus = await startDevPrometheus(
            cfg,
            names,
            prometheusBinary,
            num(o.prometheusPort, '--prometheus-port') ?? 9390,
          );
        } catch (e) {
          failures.push(`prometheus: ${(e as Error).message}`);
          process.stderr.write(`dev: cannot run prometheus: ${(e as Error).message}\n`);
        }
      }
      const sim = o.simulate ? runSimulator(cfg, o, stop.signal) : Promise.resolve();
      const fault = o.demoAlert ? simulateFault(cfg, stop.signal, process.stdout) : Promise.resolve();
      process.stdout.write('dev: running; Ctrl-C stops everything\n');
      await new Promise<void>((r) =>
        stop.signal.aborted ? r() : stop.signal.addEventListener('abort', () => r(), { once: true }),
      );
      clearTimeout(timer);
      process.stdout.write('dev: stopping\n');
      await sim;
      await fault.catch((e: unknown) => process.stderr.write(`[simulator] fault: ${(e as Error).message}\n`));
      stopping.now = true;
      for (const c of children.values()) c.kill('SIGTERM');
      await Promise.all([...exits, prometheus?.stop()]);
      await mail?.close();
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      if (failures.length) {
        process.stderr.write(`dev: stopped with failures: ${failures.join('; ')}\n`);
        process.exitCode = 1;
      } else process.stdout.write('dev: stopped\n');
    });
}

/** DSA-110 writes one observation every ~309 s. */
const OBSERVATION_S = 309;
/** Observations replayed at start-up (about an hour), so `npm start` shows work at once. */
const BACKLOG_GROUPS = 12;

async function runSimulator(cfg: Config, o: DevOpts, signal: AbortSignal): Promise<void> {
  const { simulateDemo } = await import('../../lib/sim/demo.js');
  const { openDb } = await import('../../lib/db/index.js');
  const calibrateNow = await calibrator(cfg, o);
  const pipelineDb = openDb({ name: 'pipeline', path: cfg.databases.pipeline });
  try {
    const n = await simulateDemo({
      incomingDir: cfg.streamingConverter.incomingDir,
      // The simulator stands in for the imaging pipeline: one image per observation, registered in `images`.
      imageDir: path.join(cfg.dataDir, 'images'),
      pipelinePath: cfg.databases.pipeline,
      msPathOf: (groupId) =>
        path.join(
          cfg.streamingConverter.outputDir,
          cfg.streamingConverter.converter.outputName.replaceAll('{group}', groupId),
        ),
      groups: num(o.groups, '--groups') ?? Infinity,
      cadenceS: num(o.cadenceS, '--cadence-s') ?? 10,
      spacingS: OBSERVATION_S,
      // Replay the last hour at the fast cadence, then keep step with the wall clock like the telescope, so
      // timestamps stay real (the pointing monitor rejects headers from the future).
      startMs: Math.floor(Date.now() / 1000) * 1000 - BACKLOG_GROUPS * OBSERVATION_S * 1000,
      realTime: true,
      jitterS: 2,
      signal,
      onObservation: (groupId) => {
        process.stdout.write(`[simulator] observation complete: ${groupId} (and its image)\n`);
        calibrateNow(pipelineDb, Date.now() - 86_400_000);
      },
    });
    process.stdout.write(`[simulator] wrote ${n} observation(s)\n`);
  } catch (e) {
    process.stderr.write(`[simulator] stopped: ${(e as Error).message}\n`);
  } finally {
    pipelineDb.close();
  }
}

/** The simulator's pointing declination (its default 0.9 rad). */
const SIM_DEC_DEG = (0.9 * 180) / Math.PI;

/** The simulated pipeline's calibration sets and flux measurements for transits since fromMs (idempotent). */
async function calibrate(cfg: Config, o: DevOpts, fromMs: number): Promise<void> {
  const { openDb } = await import('../../lib/db/index.js');
  const pipelineDb = openDb({ name: 'pipeline', path: cfg.databases.pipeline });
  try {
    (await calibrator(cfg, o))(pipelineDb, fromMs);
  } finally {
    pipelineDb.close();
  }
}

/** A synchronous writer of the simulated calibration (modules loaded once, up front). */
async function calibrator(cfg: Config, o: DevOpts): Promise<(db: Db, fromMs: number) => void> {
  const { simulateCalibration } = await import('../sim-calibration.js');
  const { isCalibrationFault } = await import('../../lib/sim/calibration.js');
  return (pipelineDb, fromMs) => {
    try {
      const r = simulateCalibration({
        config: cfg,
        pipelineDb,
        decDeg: SIM_DEC_DEG,
        fromMs,
        nowMs: Date.now(),
        faults: o.fault.filter(isCalibrationFault),
      });
      if (r.sets || r.measurements)
        process.stdout.write(
          `[simulator] calibration: ${r.sets} set(s), ${r.measurements} flux measurement(s)\n`,
        );
    } catch (e) {
      process.stderr.write(`[simulator] calibration not written: ${(e as Error).message}\n`);
    }
  };
}

async function prometheusOnPath(): Promise<string> {
  const { findOnPath } = await import('../prometheus.js');
  const found = findOnPath('prometheus');
  if (!found)
    throw new UsageError(
      '--with-prometheus: prometheus is not on PATH (Debian: apt-get install -y --no-install-recommends prometheus)',
    );
  return found;
}

/**
 * Prometheus for the demo: the daemons started here, scraped every 5 s on loopback, with the shipped rules
 * (their real `for:` durations) from ops/prometheus/rules, alerts to the alert dispatcher when it runs.
 */
async function startDevPrometheus(
  cfg: Config,
  names: DaemonName[],
  binary: string,
  port: number,
): Promise<PrometheusProcess> {
  const { startPrometheus } = await import('../prometheus.js');
  const ops = await import('../../lib/ops/prometheus-config.js');
  const { resolveHttpToken } = await import('../../lib/http/index.js');
  const dir = path.join(cfg.dataDir, 'prometheus');
  fs.mkdirSync(dir, { recursive: true });
  const host = ops.scrapeHost(cfg.http.host);
  const token = resolveHttpToken(cfg.http);
  let tokenFile: string | undefined;
  if (token !== undefined) {
    tokenFile = path.join(dir, 'http-token');
    fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  }
  const config = ops.prometheusConfig({
    targets: ops.targetsFromConfig(cfg, names, host),
    ruleFiles: [path.join(ROOT, 'ops', 'prometheus', 'rules', '*.yml')],
    alertmanager: names.includes('alert-dispatcher') ? { host, port: cfg.alertDispatcher.port } : null,
    tokenFile,
    scrapeIntervalS: 5,
    evaluationIntervalS: 5,
  });
  const p = await startPrometheus({ config, dir, port, binary });
  process.stdout.write(
    `dev: started prometheus (pid ${p.child.pid}): ${p.url}  (alerts: ${p.url}/alerts, log: ${path.join(dir, 'prometheus.log')})\n`,
  );
  return p;
}
