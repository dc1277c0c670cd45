// The BUILT alert dispatcher (dist/daemons/alert-dispatcher/main.js) as a child process, as systemd runs it:
// its own config file, stdout/stderr kept, /readyz awaited, SIGTERM or SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

export const DISPATCHER_MAIN = path.join(REPO_ROOT, 'dist/daemons/alert-dispatcher/main.js');

export interface Child {
  child: ChildProcess;
  port: number;
  base: string;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function writeConfig(dir: string, name: string, raw: Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, YAML.stringify(raw));
  return file;
}

export function spawnDispatcher(config: string, env: NodeJS.ProcessEnv = {}): Omit<Child, 'port' | 'base'> {
  let out = '';
  let err = '';
  const child = spawn(process.execPath, [DISPATCHER_MAIN, '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NOTIFY_SOCKET: '', ...env },
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, out: () => out, err: () => err, exited };
}

export async function startChild(
  config: string,
  port: number,
  opts: { env?: NodeJS.ProcessEnv; token?: string } = {},
): Promise<Child> {
  const c = spawnDispatcher(config, opts.env);
  const headers = opts.token ? { authorization: `Bearer ${opts.token}` } : undefined;
  // A child that never gets ready must not outlive the test that started it.
  const ready = waitFor(
    async () => {
      if (c.child.exitCode !== null)
        throw new Error(`dispatcher exited ${c.child.exitCode}: ${c.err()}${c.out().slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`, { headers })).status === 200;
    },
    { what: 'dispatcher ready', timeoutMs: 30_000, intervalMs: 50 },
  );
  try {
    await ready;
  } catch (e) {
    await stopChild(c, 'SIGKILL');
    throw e;
  }
  return { ...c, port, base: `http://127.0.0.1:${port}` };
}

export async function stopChild(
  c: Omit<Child, 'port' | 'base'> | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!c || c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill(signal);
  await c.exited;
}

/** A config file for one dispatcher on these databases (fast loops unless the section says otherwise). */
export function dispatcherConfig(
  dir: string,
  dbs: { statePath: string; pipelinePath: string },
  alertDispatcher: Record<string, unknown>,
  opts: { top?: Record<string, unknown>; name?: string } = {},
): string {
  return writeConfig(dir, opts.name ?? 'contimg.yaml', {
    dataDir: dir,
    databases: { state: dbs.statePath, pipeline: dbs.pipelinePath },
    log: { level: 'warn' },
    ...opts.top,
    alertDispatcher: { tickMs: 50, delivery: { pollMs: 50 }, ...alertDispatcher },
  });
}
