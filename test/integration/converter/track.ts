// What a converter test started, stopped after it: the daemons in process, the daemons run as processes, and
// (if asked) the converters and the processes the test spawned itself; then the test's folder is removed. Apart
// from harness.ts because it needs proc.ts, which imports harness.ts.
import { afterEach } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import type { RunOptions } from '../../../daemons/streaming-converter/run.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { fakeLog, startInProcess, startLogged, type Env } from './harness.js';
import { pidAlive, type DaemonProc } from './proc.js';

export interface TrackOptions {
  /**
   * What becomes of the processes still alive once the daemons have stopped: the converters the fake converter
   * logged and the pids in `strays`. 'leave' them (the default; `strays` is not looked at), SIGKILL each one's
   * process 'group' (each must lead one), or its group where it leads one and the process alone otherwise
   * ('group-or-pid').
   */
  kill?: 'leave' | 'group' | 'group-or-pid';
}

export interface Tracker {
  /** Daemons in process, stopped in this order after the test (a test may take one out to leave it running). */
  readonly daemons: RunningDaemon[];
  /** Daemons run as processes (proc.ts): SIGKILLed after the ones in process stop, if still running. */
  readonly procs: DaemonProc[];
  /** Processes the test spawned itself (supervisors, orphans, bystanders), killed as `kill` says. */
  readonly strays: number[];
  /** startInProcess, its daemon tracked. */
  start(e: Env, opts?: RunOptions): Promise<RunningDaemon>;
  /** startLogged, its daemon tracked. */
  startLogged(e: Env, o?: Parameters<typeof startLogged>[1]): ReturnType<typeof startLogged>;
}

/** Register (at module top level) the afterEach that cleans up after each test of the file; `env` is its Env. */
export function trackDaemons(env: () => Env, o: TrackOptions = {}): Tracker {
  const { kill = 'leave' } = o;
  const daemons: RunningDaemon[] = [];
  const procs: DaemonProc[] = [];
  const strays: number[] = [];
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop();
    for (const p of procs.splice(0))
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    if (kill !== 'leave')
      for (const pid of [...strays.splice(0), ...fakeLog(env()).map((l) => l.pid)])
        if (pidAlive(pid)) killGroup(pid, kill === 'group-or-pid');
    removeTmpDir(env().dir);
  });
  return {
    daemons,
    procs,
    strays,
    start: async (e, opts = {}) => {
      const d = await startInProcess(e, opts);
      daemons.push(d);
      return d;
    },
    startLogged: async (e, opts = {}) => {
      const started = await startLogged(e, opts);
      daemons.push(started.daemon);
      return started;
    },
  };
}

/** SIGKILL `pid`'s process group (it must lead one, unless `orPid`: then the process alone where it does not). */
function killGroup(pid: number, orPid: boolean): void {
  if (!orPid) process.kill(-pid, 'SIGKILL');
  else
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      process.kill(pid, 'SIGKILL');
    }
}
