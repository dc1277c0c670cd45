// The attempt supervisor (lib/exec/supervise.ts) as a dispatcher runs it: a real child process, detached into
// its own process group, in an attempt directory, supervising small real shell commands. It runs from the
// sources (supervisedArgv under vitest starts it with tsx), not from dist/: the hand-made mutants of
// `npm run mutate -- converter-supervisor` edit the source in a copy of the repository that has no dist/.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  readExit,
  readSupervisor,
  STDERR_FILE,
  STDOUT_FILE,
  supervisedArgv,
} from '../../../lib/exec/attempt-files.js';
import { isAlive, pidStartTicks, sameProcess, signalGroup } from '../../../lib/exec/procs.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const KEY = '7.1700000000000';

let dir: string;
let supervisor: ChildProcess | undefined;
/** Processes a test started outside the supervisor's group view (a grandchild's pid), killed afterwards. */
const strays: number[] = [];

beforeEach(() => {
  dir = makeTmpDir('contimg-supervise-');
});

afterEach(() => {
  // Whatever a test (or a mutant) left running: the supervisor's group and any stray pid.
  if (supervisor?.pid) signalGroup(supervisor.pid, 'SIGKILL');
  for (const pid of strays.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  supervisor = undefined;
  removeTmpDir(dir);
});

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Start the supervisor on `sh -c script` as a dispatcher does; resolves when the supervisor exits. */
function supervise(script: string): Promise<Ended> {
  const [cmd, ...args] = supervisedArgv(KEY, ['/bin/sh', '-c', script]);
  const child = spawn(cmd, args, { cwd: dir, detached: true, stdio: 'ignore' });
  supervisor = child;
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Fail instead of hanging when the supervisor does not end by itself. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const file = (name: string): string => path.join(dir, name);

describe('the attempt supervisor', () => {
  it('outlives SIGTERM to its process group and records how the trapping command really ended', async () => {
    // The command traps SIGTERM and ends with its own code when it gets it; it says when the trap is set.
    const ended = supervise(
      `trap 'echo terminated; exit 3' TERM; : > trap-set; while :; do sleep 0.05; done`,
    );
    await waitFor(() => readSupervisor(dir, KEY) && fs.existsSync(file('trap-set')), {
      what: 'the supervisor to start and the command to set its trap',
    });
    // Who runs the attempt, as a restarted daemon adopting it would check: this very process, not a reused pid.
    const sup = readSupervisor(dir, KEY)!;
    expect(sup.pid).toBe(supervisor!.pid);
    expect(sameProcess(sup.pid, sup.startTicks)).toBe(true);
    expect(sup.startTicks).toBe(pidStartTicks(sup.pid));
    // A dispatcher's timeout or shutdown: SIGTERM to the whole group (supervisor, shell, its sleep).
    expect(signalGroup(supervisor!.pid!, 'SIGTERM')).toBe(true);
    await within(ended, 20_000, 'the supervisor to exit');
    expect(readExit(dir, KEY)).toMatchObject({ exitCode: 3, signal: null, spawnError: null });
    expect(fs.readFileSync(file(STDOUT_FILE), 'utf8')).toBe('terminated\n');
  });

  it('records a command killed by a signal as that signal, with no exit code', async () => {
    const ended = await within(supervise('kill -KILL $$'), 20_000, 'the supervisor to exit');
    expect(readExit(dir, KEY)).toMatchObject({ exitCode: null, signal: 'SIGKILL', spawnError: null });
    // The supervisor leads its group and ends with it: the group SIGKILL takes it too.
    expect(ended).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('kills what the command left running in its process group once the command exits', async () => {
    // A grandchild in the background, in the same process group, that would run for minutes.
    const ended = supervise(`sleep 300 & echo $! > grandchild.pid; exit 0`);
    await within(ended, 20_000, 'the supervisor to exit');
    expect(readExit(dir, KEY)).toMatchObject({ exitCode: 0, signal: null });
    const grandchild = Number(fs.readFileSync(file('grandchild.pid'), 'utf8').trim());
    expect(grandchild).toBeGreaterThan(1);
    strays.push(grandchild);
    await waitFor(() => !isAlive(grandchild), {
      timeoutMs: 10_000,
      what: `the grandchild ${grandchild} to be killed with the supervisor's group`,
    });
  });

  it('records a command that cannot start as a spawn error, and ends', async () => {
    const [cmd, ...args] = supervisedArgv(KEY, [path.join(dir, 'no-such-command')]);
    const child = spawn(cmd, args, { cwd: dir, detached: true, stdio: 'ignore' });
    supervisor = child;
    await within(
      new Promise((resolve) => child.once('exit', resolve)),
      20_000,
      'the supervisor to give up on a command that cannot start',
    );
    const exit = readExit(dir, KEY);
    expect(exit).toMatchObject({ exitCode: null, signal: null });
    expect(exit?.spawnError).toMatch(/ENOENT/);
  });

  it('writes the command stdout and stderr to their own files, byte for byte', async () => {
    // Random bytes (not text: any byte value, no trailing newline), more than a pipe holds, one set each.
    const out = randomBytes(200_000);
    const err = randomBytes(150_001);
    fs.writeFileSync(file('out.bin'), out);
    fs.writeFileSync(file('err.bin'), err);
    await within(supervise('cat out.bin; cat err.bin >&2'), 20_000, 'the supervisor to exit');
    expect(readExit(dir, KEY)).toMatchObject({ exitCode: 0, signal: null });
    expect(fs.readFileSync(file(STDOUT_FILE)).equals(out)).toBe(true);
    expect(fs.readFileSync(file(STDERR_FILE)).equals(err)).toBe(true);
  });
});
