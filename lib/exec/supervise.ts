// An attempt's supervisor: `node supervise.js KEY -- COMMAND ARGV…` (the converter, a mosaic builder). A
// dispatcher starts it detached (its own process group), in the attempt directory, with its attempt marker
// (procs.ts) in the environment. It records who it is (supervisor.json) before it starts the command in the
// same process group with stdout/stderr going to files, waits for it, records how it ended (exit.json,
// atomically), then SIGKILLs its process group: whatever the command left behind, and itself. A daemon that dies meanwhile
// loses nothing: the next one finds these files (and these processes) instead of an exit status it never saw.
// This file is an entry script: it runs when executed, so nothing imports it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import process from 'node:process';
import {
  EXIT_FILE,
  STDERR_FILE,
  STDOUT_FILE,
  SUPERVISOR_FILE,
  writeJsonAtomic,
  type ExitRecord,
} from './attempt-files.js';
import { pidStartTicks, processGroupOf } from './procs.js';

const [key, sep, ...argv] = process.argv.slice(2);
if (!key || sep !== '--' || argv.length === 0) {
  process.stderr.write('usage: supervise KEY -- COMMAND [ARG…]\n');
  process.exit(64);
}

// SIGTERM to the process group reaches the command too: stay to record how it ends. A daemon that died
// leaves our stdout/stderr pipes without a reader: ignore EPIPE instead of dying of it.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => undefined);
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

const startedAt = Date.now();
writeJsonAtomic(SUPERVISOR_FILE, {
  key,
  pid: process.pid,
  startTicks: pidStartTicks(process.pid),
  startedAt,
});

let finished = false;
function finish(r: Pick<ExitRecord, 'exitCode' | 'signal' | 'spawnError'>): void {
  if (finished) return;
  finished = true;
  try {
    writeJsonAtomic(EXIT_FILE, { key, ...r, startedAt, endedAt: Date.now() } satisfies ExitRecord);
  } catch (e) {
    process.stderr.write(`supervise: cannot write ${EXIT_FILE}: ${(e as Error).message}\n`);
  }
  // The whole group (leftovers and this process) when we lead it, as the dispatcher always starts us.
  if (processGroupOf(process.pid) === process.pid) process.kill(-process.pid, 'SIGKILL');
  process.exit(r.exitCode ?? 1);
}

const out = fs.openSync(STDOUT_FILE, 'w');
const err = fs.openSync(STDERR_FILE, 'w');
try {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, err] });
  child.once('error', (e) => finish({ exitCode: null, signal: null, spawnError: e.message }));
  child.once('exit', (code, signal) => finish({ exitCode: code, signal, spawnError: null }));
} catch (e) {
  finish({ exitCode: null, signal: null, spawnError: (e as Error).message });
} finally {
  fs.closeSync(out);
  fs.closeSync(err);
}
