// The built daemons as an operator runs them, for the ops tests and the scrape bench: each
// dist/daemons/<name>/main.js its own child process (as systemd starts it) on a free loopback port, on the
// config `contimg dev` writes, with fresh databases in a temp folder; the demo simulator for activity (and the
// pipeline's calibration for the scheduler's jobs). The alert dispatcher delivers to a `log` receiver and,
// when a mail port is given (a real SMTP server on loopback), to the dev config's e-mail receiver `dev-mail`.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { devConfig } from '../../cli/commands/dev.js';
import { devAlertDispatcher } from '../../cli/dev-alerts.js';
import { simulateCalibration } from '../../cli/sim-calibration.js';
import { loadConfigFile, type Config } from '../../lib/config/index.js';
import type { DaemonName } from '../../lib/daemon/types.js';
import { openDb } from '../../lib/db/index.js';
import { simulateDemo } from '../../lib/sim/demo.js';
import { freshDatabases } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

export interface DaemonProcess {
  child: ChildProcess;
  /** The last 200 lines of its stdout and stderr, for failure messages. */
  output: string[];
  exited: Promise<number | null>;
}

export interface StackOptions {
  names: DaemonName[];
  /** Require this bearer token (written to a file, `http.tokenFile`). */
  token?: string;
  /** The SMTP port of the dispatcher's e-mail receiver `dev-mail`; without it the dispatcher only logs. */
  mailPort?: number;
  /** Deep-merged over the dev config, per section. */
  overrides?: Record<string, Record<string, unknown>>;
}

/** The simulator's pointing declination (its default 0.9 rad), as `contimg dev` calibrates for it. */
const SIM_DEC_DEG = (0.9 * 180) / Math.PI;

export class Stack {
  readonly dir: string;
  readonly configFile: string;
  readonly config: Config;
  readonly ports: Record<string, number>;
  readonly names: DaemonName[];
  readonly token?: string;
  readonly procs = new Map<DaemonName, DaemonProcess>();

  private constructor(o: {
    dir: string;
    configFile: string;
    ports: Record<string, number>;
    opts: StackOptions;
  }) {
    this.dir = o.dir;
    this.configFile = o.configFile;
    this.config = loadConfigFile(o.configFile);
    this.ports = o.ports;
    this.names = o.opts.names;
    this.token = o.opts.token;
  }

  /** Write the config and databases; start nothing yet. */
  static async create(opts: StackOptions): Promise<Stack> {
    const dir = makeTmpDir('contimg-ops-');
    await freshDatabases(dir);
    const ports: Record<string, number> = {};
    for (const n of opts.names) ports[n] = await freePort();
    const raw = devConfig(ports) as Record<string, Record<string, unknown>>;
    raw.log = { level: 'warn' };
    // Quick settling and polling, so a test sees activity within seconds.
    merge(raw, {
      streamingConverter: { settleS: 0.5 },
      pointingMonitor: { pollIntervalS: 0.5, statusIntervalS: 1 },
      thumbnailWorker: { settleS: 0.3, pollS: 0.2, backoffBaseS: 0.2 },
      // The dev config's receivers (log, and e-mail to the mail port), delivering within seconds.
      alertDispatcher: {
        ...(opts.mailPort === undefined
          ? { receivers: [{ name: 'log', type: 'log' }], routes: [{ receivers: ['log'] }] }
          : devAlertDispatcher({}, opts.mailPort)),
        groupWaitS: 1,
        groupIntervalS: 2,
        delivery: { pollMs: 200 },
      },
    });
    if (opts.token) {
      const tokenFile = path.join(dir, 'http-token');
      fs.writeFileSync(tokenFile, `${opts.token}\n`, { mode: 0o600 });
      raw.http = { tokenFile };
    }
    merge(raw, opts.overrides ?? {});
    const configFile = path.join(dir, 'contimg.yaml');
    fs.writeFileSync(configFile, YAML.stringify(raw));
    return new Stack({ dir, configFile, ports, opts });
  }

  url(name: DaemonName, p = ''): string {
    return `http://127.0.0.1:${this.ports[name]}${p}`;
  }

  get headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** Start one daemon (or all) and wait until /readyz answers 200. */
  async start(name?: DaemonName): Promise<void> {
    const names = name ? [name] : this.names;
    for (const n of names) this.spawn(n);
    await Promise.all(
      names.map((n) =>
        waitFor(
          async () => {
            const p = this.procs.get(n);
            if (p && p.child.exitCode !== null)
              throw new Error(`${n} exited ${p.child.exitCode}: ${p.output.slice(-10).join('\n')}`);
            return (await fetch(this.url(n, '/readyz'), { headers: this.headers }).catch(() => undefined))
              ?.ok;
          },
          { what: `${n} ready`, timeoutMs: 45_000, intervalMs: 100 },
        ),
      ),
    );
  }

  private spawn(name: DaemonName): void {
    const main = path.join(REPO_ROOT, 'dist', 'daemons', name, 'main.js');
    if (!fs.existsSync(main)) throw new Error(`${main} is missing: npm run build (npm test does it first)`);
    const env = { ...process.env };
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    const child = spawn(process.execPath, [main, '--config', this.configFile], {
      cwd: this.dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer): void => {
      output.push(...chunk.toString().split('\n').filter(Boolean));
      if (output.length > 200) output.splice(0, output.length - 200);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    this.procs.set(name, { child, output, exited });
  }

  /** Kill a daemon with a signal and wait for it to exit. */
  async kill(name: DaemonName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    await p.exited;
  }

  async scrape(name: DaemonName): Promise<string> {
    const res = await fetch(this.url(name, '/metrics'), { headers: this.headers });
    if (!res.ok) throw new Error(`${name} /metrics: HTTP ${res.status}`);
    return res.text();
  }

  /** Simulate `groups` observations (subbands and their images) at a fast cadence, ending about now. */
  simulate(groups: number, faults: Parameters<typeof simulateDemo>[0]['faults'] = []): Promise<number> {
    const spacingS = 309;
    return simulateDemo({
      incomingDir: this.config.streamingConverter.incomingDir,
      imageDir: path.join(this.config.dataDir, 'images'),
      pipelinePath: this.config.databases.pipeline,
      groups,
      cadenceS: 0.2,
      spacingS,
      startMs: Math.floor(Date.now() / 1000) * 1000 - groups * spacingS * 1000,
      jitterS: 2,
      faults,
    });
  }

  /**
   * The pipeline's calibration of the past week (sets and flux measurements for the scheduled transits), as
   * `contimg dev` writes it before starting, so the scheduler's validity and flux jobs have data.
   */
  calibrate(nowMs = Date.now()): { sets: number; measurements: number } {
    const pipelineDb = openDb({ name: 'pipeline', path: this.config.databases.pipeline });
    try {
      return simulateCalibration({
        config: this.config,
        pipelineDb,
        decDeg: SIM_DEC_DEG,
        fromMs: nowMs - 8 * 86_400_000,
        nowMs,
        faults: [],
      });
    } finally {
      pipelineDb.close();
    }
  }

  /** Run one scheduler job now through its API (POST /api/jobs/:job/run) and return the outcome. */
  async runJob(job: string): Promise<{ result: string; error: string | null }> {
    const res = await fetch(this.url('scheduler', `/api/jobs/${job}/run`), {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/json' },
      body: '{}',
    });
    if (!res.ok) throw new Error(`scheduler job ${job}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as { result: string; error: string | null };
  }

  /** SIGTERM every daemon (SIGKILL after 20 s) and remove the folder. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.procs.values()].map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
        await p.exited;
        clearTimeout(timer);
      }),
    );
    removeTmpDir(this.dir);
  }
}

function merge(
  into: Record<string, Record<string, unknown>>,
  from: Record<string, Record<string, unknown>>,
): void {
  for (const [section, values] of Object.entries(from))
    into[section] = { ...(into[section] ?? {}), ...values };
}
