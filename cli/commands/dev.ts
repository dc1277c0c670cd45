// contimg dev (what `npm start` runs after the build): the whole host on a laptop. Creates ./var (or
// --data-dir), writes a config there if none exists, migrates both databases, starts every built daemon
// (dist/daemons/*/main.js) as its own child process as systemd would, runs the subband simulator at a fast
// cadence with `contimg convert-check` as the converter, prints where each daemon's /metrics and /ws are,
// and on Ctrl-C/SIGTERM (or after --for-seconds) stops the simulator, sends SIGTERM to every daemon and
// waits for them to exit. With --with-prometheus it also runs Prometheus (Debian's package, from PATH) on
// loopback with our rules, scraping the daemons every 5 s, its data under <data dir>/prometheus.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Config } from '../../lib/config/index.js';
import { DAEMONS, type DaemonName } from '../../lib/daemon/types.js';
import { UsageError } from '../util.js';
import { CONVERT_CHECK_ARGS } from '../../lib/config/convert-check.js';
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
  withPrometheus?: boolean;
  prometheusPort: string;
}

const DAEMON_ORDER = Object.keys(DAEMONS) as DaemonName[];

/** Ports portBase, portBase+1, … in daemon-table order (undefined: the configured defaults). */
function portsFrom(portBase: number | undefined): Partial<Record<DaemonName, number>> {
  if (portBase === undefined) return {};
  return Object.fromEntries(DAEMON_ORDER.map((name, i) => [name, portBase + i]));
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
    scheduler: { ...port('scheduler') },
    alertDispatcher: { ...port('alert-dispatcher') },
    thumbnailWorker: { ...port('thumbnail-worker') },
  };
}

/** The daemons of the daemon table whose build exists (dist/daemons/<name>/main.js), in table order. */
function builtDaemons(): DaemonName[] {
  return DAEMON_ORDER.filter((d) => fs.existsSync(path.join(DIST, 'daemons', d, 'main.js')));
}

function prefixLines(name: string, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream): void {
  let buf = '';
  stream.on('data', (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) out.write(`[${name}] ${l}\n`);
  });
}

function num(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`${flag}: expected a non-negative number, got "${text}"`);
  return n;
}

async function prepare(o: DevOpts): Promise<{ configFile: string }> {
  const dataDir = path.resolve(o.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(dataDir, 'contimg.yaml');
  if (!fs.existsSync(configFile)) {
    const { default: YAML } = await import('yaml');
    fs.writeFileSync(configFile, YAML.stringify(devConfig(portsFrom(num(o.portBase, '--port-base')))));
    process.stdout.write(`dev: wrote ${configFile}\n`);
  }
  const { loadConfigFile } = await import('../../lib/config/index.js');
  const { migrateUp } = await import('../../lib/migrations/index.js');
  const cfg = loadConfigFile(configFile);
  for (const set of ['state', 'pipeline'] as const) {
    const r = await migrateUp({ path: cfg.databases[set], set, backup: false });
    process.stdout.write(`dev: ${set} database ${r.path} at version ${r.to}\n`);
  }
  return { configFile };
}

/** Start each daemon as its own child (as systemd would) and print where its /metrics and /ws are. */
function startDaemons(
  names: DaemonName[],
  configFile: string,
  cfg: { http: { host: string } } & Record<string, unknown>,
): {
  children: Map<string, ChildProcess>;
  exits: Promise<void>[];
  failures: string[];
  stopping: { now: boolean };
} {
  const children = new Map<string, ChildProcess>();
  const exits: Promise<void>[] = [];
  // A daemon that dies before we asked it to stop is a failure: reported at once and in dev's exit code.
  const failures: string[] = [];
  const stopping = { now: false };
  for (const name of names) {
    const child = spawn(
      process.execPath,
      [path.join(DIST, 'daemons', name, 'main.js'), '--config', configFile],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    prefixLines(name, child.stdout!, process.stdout);
    prefixLines(name, child.stderr!, process.stderr);
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
    const port = (cfg[DAEMONS[name].section] as { port?: number } | undefined)?.port;
    const host = cfg.http.host;
    process.stdout.write(
      `dev: started ${name} (pid ${child.pid}): http://${host}:${port}/metrics  ws://${host}:${port}/ws\n`,
    );
  }
  return { children, exits, failures, stopping };
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
    .option('--with-prometheus', 'also run Prometheus (from PATH) with our rules, scraping the daemons')
    .option('--prometheus-port <port>', 'loopback port for --with-prometheus', '9390')
    .action(async (o: DevOpts) => {
      if (!fs.existsSync(CLI))
        throw new UsageError(`${CLI} is missing: run \`npm run build\` first (npm start does)`);
      const prometheusBinary = o.withPrometheus ? await prometheusOnPath() : undefined;
      const { configFile } = await prepare(o);
      const { loadConfigFile } = await import('../../lib/config/index.js');
      const cfg = loadConfigFile(configFile);
      const names = builtDaemons();
      const { children, exits, failures, stopping } = startDaemons(names, configFile, cfg);
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
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      const forS = num(o.forSeconds, '--for-seconds');
      const timer = forS === undefined ? undefined : setTimeout(onSignal, forS * 1000);
      const sim = o.simulate ? runSimulator(cfg, o, stop.signal) : Promise.resolve();
      process.stdout.write('dev: running; Ctrl-C stops everything\n');
      await new Promise<void>((r) =>
        stop.signal.aborted ? r() : stop.signal.addEventListener('abort', () => r(), { once: true }),
      );
      clearTimeout(timer);
      process.stdout.write('dev: stopping\n');
      await sim;
      stopping.now = true;
      for (const c of children.values()) c.kill('SIGTERM');
      await Promise.all([...exits, prometheus?.stop()]);
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
  try {
    const n = await simulateDemo({
      incomingDir: cfg.streamingConverter.incomingDir,
      // The simulator stands in for the imaging pipeline: one image per observation, registered in `images`.
      imageDir: path.join(cfg.dataDir, 'images'),
      pipelinePath: cfg.databases.pipeline,
      groups: num(o.groups, '--groups') ?? Infinity,
      cadenceS: num(o.cadenceS, '--cadence-s') ?? 10,
      spacingS: OBSERVATION_S,
      // Replay the last hour at the fast cadence, then keep step with the wall clock like the telescope, so
      // timestamps stay real (the pointing monitor rejects headers from the future).
      startMs: Math.floor(Date.now() / 1000) * 1000 - BACKLOG_GROUPS * OBSERVATION_S * 1000,
      realTime: true,
      jitterS: 2,
      signal,
      onObservation: (groupId) =>
        process.stdout.write(`[simulator] observation complete: ${groupId} (and its image)\n`),
    });
    process.stdout.write(`[simulator] wrote ${n} observation(s)\n`);
  } catch (e) {
    process.stderr.write(`[simulator] stopped: ${(e as Error).message}\n`);
  }
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
