// Helpers for the lifecycle tests: a real AF_UNIX datagram NOTIFY_SOCKET listener (python3), a config
// file for the fixture daemon, and a child-process handle that collects JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import YAML from 'yaml';
import { REPO_ROOT } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

// Each message is printed with its arrival time on CLOCK_MONOTONIC (time.monotonic()), so a test can check
// the spacing of watchdog pings without the test process's own scheduling in the way.
const LISTENER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps([time.monotonic(), "LISTENING"]), flush=True)
while True:
    m = s.recv(65536).decode("utf-8")
    print(json.dumps([time.monotonic(), m]), flush=True)
`;

export interface NotifyListener {
  path: string;
  messages: string[];
  /** The same messages with their arrival times in seconds on CLOCK_MONOTONIC (see monotonicS). */
  arrivals: { at: number; msg: string }[];
  close(): void;
}

/** Seconds on CLOCK_MONOTONIC, the clock of NotifyListener.arrivals. */
export const monotonicS = (): number => Number(process.hrtime.bigint()) / 1e9;

/** Bind a datagram socket at dir/notify.sock and record every message it receives. */
export async function notifyListener(dir: string): Promise<NotifyListener> {
  const sock = path.join(dir, 'notify.sock');
  const child = spawn('python3', ['-u', '-c', LISTENER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const arrivals: { at: number; msg: string }[] = [];
  let listening = false;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const [at, msg] = JSON.parse(line) as [number, string];
    if (msg === 'LISTENING') listening = true;
    else {
      messages.push(msg);
      arrivals.push({ at, msg });
    }
  });
  await waitFor(() => listening, { what: 'notify listener' });
  return { path: sock, messages, arrivals, close: () => child.kill('SIGKILL') };
}

export function writeConfig(dir: string, raw: Record<string, unknown>): string {
  const file = path.join(dir, 'contimg.yaml');
  fs.writeFileSync(file, YAML.stringify(raw));
  return file;
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface DaemonChild {
  child: ChildProcess;
  lines: LogLine[];
  stdout: string[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  find(msg: string): LogLine | undefined;
  count(msg: string): number;
}

export const FIXTURE_MAIN = path.join(REPO_ROOT, 'test/fixtures/daemon/main.ts');

/** Start the fixture daemon (or another entry file) as a real child process. */
export function startChild(
  configFile: string,
  env: Record<string, string> = {},
  entry = FIXTURE_MAIN,
): DaemonChild {
  const base = { ...process.env };
  delete base.NOTIFY_SOCKET;
  delete base.WATCHDOG_USEC;
  const child = spawn(process.execPath, ['--import', 'tsx', entry, '--config', configFile], {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    stdout.push(l);
    try {
      lines.push(JSON.parse(l) as LogLine);
    } catch {
      /* not a log line */
    }
  });
  readline.createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stdout,
    stderr,
    exit,
    find: (msg) => lines.find((l) => l.msg === msg),
    count: (msg) => lines.filter((l) => l.msg === msg).length,
  };
}
