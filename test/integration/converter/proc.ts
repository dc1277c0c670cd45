// Spawn the daemon as systemd would, for the tests where process death matters: the BUILT one
// (dist/daemons/streaming-converter/main.js; build first: npx tsc -p tsconfig.build.json), or from its sources.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { writeConfigFile, type Env } from './harness.js';

export const MAIN = path.join(REPO_ROOT, 'dist/daemons/streaming-converter/main.js');
const MAIN_SOURCE = path.join(REPO_ROOT, 'daemons/streaming-converter/main.ts');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface DaemonProc {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function spawnDaemon(
  env: Env,
  extraEnv: Record<string, string> = {},
  as?: { uid: number; gid: number },
): Promise<DaemonProc> {
  return startDaemonProcess([MAIN], env, extraEnv, as);
}

/**
 * The daemon from its sources (tsx's loader), in a process of its own: for a test about two daemons where the
 * other one, in process, is the code under test. Mutation runs have no dist/, and their mutants are active only
 * in the test's process, so this child always runs the unchanged code.
 */
export async function spawnSourceDaemon(env: Env): Promise<DaemonProc> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return startDaemonProcess(['--import', tsx, MAIN_SOURCE], env, {});
}

async function startDaemonProcess(
  entry: string[],
  env: Env,
  extraEnv: Record<string, string>,
  as?: { uid: number; gid: number },
): Promise<DaemonProc> {
  const port = await freePort();
  (env.raw.streamingConverter as Record<string, unknown>).port = port;
  const cfg = writeConfigFile(env);
  let out = '';
  const child = spawn(process.execPath, [...entry, '--config', cfg], {
    env: { ...process.env, FAKE_CONVERTER_LOG: env.log, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const p: DaemonProc = { child, port, output: () => out, exited };
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${out.slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    },
    { what: 'daemon ready', timeoutMs: 30_000, intervalMs: 100 },
  );
  return p;
}

export async function metricsText(p: DaemonProc): Promise<string> {
  return (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
}

/** State and start ticks (field 22) from /proc/<pid>/stat; null when there is no such process. */
export function procStat(pid: number): { state: string; ticks: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], ticks: Number(f[19]) };
  } catch {
    return null;
  }
}

/** Alive and not a zombie (an orphan whose reaper never reaps it still answers kill 0 but runs nothing). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const p = procStat(pid);
  return p !== null && p.state !== 'Z';
}

export function built(): boolean {
  return fs.existsSync(MAIN);
}
