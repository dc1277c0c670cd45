// Run a real Prometheus on loopback (Debian's `prometheus` package): for `contimg dev --with-prometheus`, the
// round-trip tests and the scrape bench. Its own port, its own storage folder, our rules; ready when /-/ready
// answers. Nothing here is used by the daemons.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { renderPrometheusConfig, type PrometheusConfig } from '../lib/ops/prometheus-config.js';

/** The full path of an executable on PATH, or undefined. */
export function findOnPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Which Debian package brings each ops binary (for error messages that say what to install). */
export const OPS_PACKAGES: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  amtool: 'prometheus-alertmanager',
  'systemd-analyze': 'systemd',
};

/** The path of `name`, or an Error that says which package to install. */
export function requireExecutable(name: string, envPath?: string): string {
  const found = findOnPath(name, envPath);
  if (found) return found;
  const pkg = OPS_PACKAGES[name] ?? name;
  throw new Error(
    `${name} is not on PATH: install Debian's ${pkg} package (apt-get install -y --no-install-recommends ${pkg})`,
  );
}

export interface PrometheusProcess {
  url: string;
  port: number;
  child: ChildProcess;
  configFile: string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  /** GET a JSON API path (e.g. /api/v1/alerts) and return its `data`. */
  api<T = unknown>(pathAndQuery: string): Promise<T>;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  config: PrometheusConfig;
  /** Folder for prometheus.yml, the TSDB (data/) and prometheus.log. */
  dir: string;
  port: number;
  binary?: string;
  /** How long to wait for /-/ready. */
  readyTimeoutMs?: number;
  /** Extra command-line flags, e.g. --rules.alert.resend-delay=1s. */
  args?: string[];
}

/** Write the config into `dir`, start Prometheus on 127.0.0.1:port and wait until it is ready. */
export async function startPrometheus(o: StartPrometheusOptions): Promise<PrometheusProcess> {
  const binary = o.binary ?? requireExecutable('prometheus');
  fs.mkdirSync(path.join(o.dir, 'data'), { recursive: true });
  const configFile = path.join(o.dir, 'prometheus.yml');
  fs.writeFileSync(configFile, renderPrometheusConfig(o.config));
  const log = fs.openSync(path.join(o.dir, 'prometheus.log'), 'a');
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(o.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${o.port}`,
      // Alert links (generatorURL) point where this instance listens, not at the host name.
      `--web.external-url=http://127.0.0.1:${o.port}/`,
      // No console templates or libraries from /etc/prometheus: this instance uses nothing outside `dir`.
      `--web.console.templates=${o.dir}`,
      `--web.console.libraries=${o.dir}`,
      ...(o.args ?? []),
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const url = `http://127.0.0.1:${o.port}`;
  const handle: PrometheusProcess = {
    url,
    port: o.port,
    child,
    configFile,
    exited,
    async api<T>(p: string): Promise<T> {
      const res = await fetch(url + p);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`prometheus ${p}: ${body.error ?? res.status}`);
      return body.data;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  let dead = false;
  void exited.then(() => (dead = true));
  for (;;) {
    if (dead) throw new Error(`prometheus exited while starting; see ${path.join(o.dir, 'prometheus.log')}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return handle;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`prometheus not ready on ${url} after ${o.readyTimeoutMs ?? 30_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
