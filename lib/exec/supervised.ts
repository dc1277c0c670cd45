// A supervised attempt as a dispatcher sees it, whatever it runs (a conversion, a mosaic build): start the
// command under the supervisor (supervise.ts) detached into its own process group with a timeout (SIGTERM to
// the group, SIGKILL after the grace); after a restart, await a supervisor that is still running (polling
// its pid and start ticks, with the same deadline counted from its spawn); stop whatever still carries the
// attempt's marker; and read what the attempt directory says about how the command ended. The daemons keep
// only what is theirs: the manifest, the classification of the end, their rows and events.
import path from 'node:path';
import { pause } from '../clock.js';
import {
  readExit,
  readTail,
  STDERR_FILE,
  STDOUT_FILE,
  supervisedArgv,
  type SupervisorRecord,
} from './attempt-files.js';
import { runChild, TAIL_BYTES, type ChildResult } from './child.js';
import { markedProcesses, sameProcess, signalGroup, terminate } from './procs.js';

/** What the daemon saw of a command it did not run: nothing. */
export const UNSEEN: ChildResult = {
  exitCode: null,
  signal: null,
  timedOut: false,
  aborted: false,
  spawnError: null,
  stdoutTail: '',
  stderrTail: '',
  durationMs: 0,
};

/** How often an adopted attempt's supervisor is looked at. */
const POLL_MS = 250;

export interface SupervisedStart {
  /** attemptKey(row): the supervisor's files carry it. */
  key: string;
  /** The attempt directory: cwd of the supervisor and the command, and the marker's value. */
  dir: string;
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  killGraceMs: number;
  signal: AbortSignal;
  now: () => number;
  onSpawn: (pid: number) => void;
}

/** Run `argv` under the supervisor in the attempt directory; resolves with what the daemon saw of it. */
export function runSupervised(o: SupervisedStart): Promise<ChildResult> {
  return runChild({
    argv: supervisedArgv(o.key, o.argv),
    cwd: o.dir,
    env: o.env,
    timeoutMs: o.timeoutMs,
    killGraceMs: o.killGraceMs,
    signal: o.signal,
    now: o.now,
    onSpawn: o.onSpawn,
  });
}

/**
 * Await a supervisor this process did not start (adopted after a restart) until it is gone. Past `deadline`
 * (or on an abort of `signal`) its group gets SIGTERM, then SIGKILL after killGraceMs; `timedOut` says the
 * deadline did it.
 */
export async function awaitSupervisor(
  sup: SupervisorRecord,
  o: { spawnedAt: number; deadline: number; killGraceMs: number; now: () => number; signal: AbortSignal },
): Promise<ChildResult> {
  let timedOut = false;
  let stopAt: number | null = null;
  while (sameProcess(sup.pid, sup.startTicks)) {
    const now = o.now();
    if (stopAt === null && (now >= o.deadline || o.signal.aborted)) {
      timedOut = !o.signal.aborted;
      signalGroup(sup.pid, 'SIGTERM');
      stopAt = now;
    } else if (stopAt !== null && now >= stopAt + o.killGraceMs) signalGroup(sup.pid, 'SIGKILL');
    await pause(POLL_MS, stopAt === null ? o.signal : undefined);
  }
  return {
    ...UNSEEN,
    timedOut,
    aborted: stopAt !== null && !timedOut,
    durationMs: Math.max(0, o.now() - o.spawnedAt),
  };
}

/**
 * Stop whatever still runs with the attempt's marker (and the process groups `extra` names); true when
 * nothing is left. An abort of `signal` (shutdown) cuts the SIGTERM grace short.
 */
export function stopMarked(o: {
  dir: string;
  marker?: string;
  extra?: () => number[];
  killGraceMs: number;
  monotonic: () => number;
  signal?: AbortSignal;
}): Promise<boolean> {
  const extra = o.extra ?? (() => []);
  return terminate(
    () => [...markedProcesses(o.dir, o.marker).map((p) => p.pgid), ...extra()],
    o.killGraceMs,
    o.monotonic,
    o.signal,
  );
}

/** How a supervised command ended: its exit status when the supervisor recorded one, and its logs. */
export interface ExitFacts {
  res: ChildResult;
  exitKnown: boolean;
}

/** What the attempt directory says about how the command ended, over what the daemon itself saw. */
export function collectExit(dir: string, key: string, seen: ChildResult): ExitFacts {
  const exit = readExit(dir, key);
  const own = seen.stderrTail; // the supervisor's own complaints, if it had any
  const logs = {
    stdoutTail: readTail(path.join(dir, STDOUT_FILE)),
    stderrTail: `${readTail(path.join(dir, STDERR_FILE))}${own}`.slice(-TAIL_BYTES),
  };
  if (!exit) return { res: { ...seen, ...logs }, exitKnown: false };
  return {
    res: {
      ...seen,
      ...logs,
      exitCode: exit.exitCode,
      signal: exit.signal,
      spawnError: exit.spawnError,
      durationMs: Math.max(0, exit.endedAt - exit.startedAt),
    },
    exitKnown: true,
  };
}
