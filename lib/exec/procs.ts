// Processes as /proc shows them: liveness that counts a zombie as dead, start ticks that tell a process from
// a later one with the same pid, process-group signals, and the scan that finds an attempt's processes by
// the marker in their environment. A daemon starts each supervisor with its marker variable set to the
// attempt directory (the converter's CONTIMG_CONVERTER_ATTEMPT, the mosaic dispatcher's CONTIMG_MOSAIC_ATTEMPT)
// and the supervised command inherits it, so an attempt is findable before (and without) its pid row.
import fs from 'node:fs';
import { pause } from '../clock.js';
// Signalling a process group is an OS call like fs; imported explicitly rather than via the global.
import { kill as killPid } from 'node:process';

/** The converter's environment variable marking an attempt's processes; its value is the attempt directory. */
export const ATTEMPT_MARKER = 'CONTIMG_CONVERTER_ATTEMPT';

/**
 * Send a signal to a whole process group; false when the group is already gone. Never group 0 (kill(0) is
 * the caller's own group: this daemon) nor 1: a pgid of 0 or NULL from a damaged attempt row must not stop us.
 */
export function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  if (!(pgid > 1)) return false;
  try {
    killPid(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** The fields of /proc/<pid>/stat after the command name (0 = state, 2 = process group, 19 = start time). */
function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** A live process (a zombie waiting to be reaped counts as dead: it runs nothing and holds nothing). */
export function isAlive(pid: number): boolean {
  // kill(0, 0) would answer for our own process group: pid 0 (or below) is no process.
  if (!(pid > 0)) return false;
  try {
    killPid(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return statFields(pid)?.[0] !== 'Z';
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): identifies a process across pid reuse. */
export function pidStartTicks(pid: number): number | null {
  const v = statFields(pid)?.[19];
  return v === undefined ? null : Number(v);
}

/** The process group a process belongs to (null when it is gone). */
export function processGroupOf(pid: number): number | null {
  const v = statFields(pid)?.[2];
  return v === undefined ? null : Number(v);
}

/** The same live process as recorded: alive and, when its start ticks were recorded, started then. */
export function sameProcess(pid: number, startTicks: number | null): boolean {
  if (!isAlive(pid)) return false;
  return startTicks === null || pidStartTicks(pid) === startTicks;
}

export interface MarkedProcess {
  pid: number;
  pgid: number;
}

/** Every live process (zombies left out) with its process group, from one read of /proc. */
function* liveProcesses(): Generator<{ pid: number; pgid: number }> {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f && f[0] !== 'Z') yield { pid: Number(name), pgid: Number(f[2]) };
  }
}

/**
 * Live processes whose environment carries `marker`=<dir> (ATTEMPT_MARKER unless a daemon names its own).
 * Only processes of our own user can be read, which is every process the daemon started. A scan reads /proc
 * once: recovery uses it, not the hot path.
 */
export function markedProcesses(dir: string, marker = ATTEMPT_MARKER): MarkedProcess[] {
  // Entries are NUL-terminated; a leading NUL makes the first one matchable like the others.
  const needle = Buffer.from(`\0${marker}=${dir}\0`);
  return [...liveProcesses()].filter((p) => {
    try {
      return Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${p.pid}/environ`)]).includes(needle);
    } catch {
      return false;
    }
  });
}

/** Does the process group still have a live member (zombies do not count)? */
export function groupAlive(pgid: number): boolean {
  try {
    killPid(-pgid, 0);
  } catch {
    return false;
  }
  for (const p of liveProcesses()) if (p.pgid === pgid) return true;
  return false;
}

/** How long SIGKILLed processes get to disappear (a process in uninterruptible I/O takes a while). */
const REAP_MS = 10_000;

/**
 * Stop process groups: SIGTERM, then SIGKILL to whatever is left after graceMs, then wait (bounded) until the
 * kernel has finished them. `find` names the groups to stop and is asked again while waiting, so one that
 * appears late is stopped too. An abort of `signal` cuts the grace short. True when nothing is left.
 */
export async function terminate(
  find: () => number[],
  graceMs: number,
  monotonic: () => number,
  signal?: AbortSignal,
): Promise<boolean> {
  const signalled = new Set<number>();
  const alive = (): number[] => [...new Set([...find(), ...[...signalled].filter((g) => groupAlive(g))])];
  let groups = alive();
  if (groups.length === 0) return true;
  const graceEnd = monotonic() + graceMs;
  while (groups.length && monotonic() < graceEnd) {
    for (const g of groups.filter((x) => !signalled.has(x))) {
      signalGroup(g, 'SIGTERM');
      signalled.add(g);
    }
    if (await pause(50, signal)) break;
    groups = alive();
  }
  const reapEnd = monotonic() + REAP_MS;
  while ((groups = alive()).length && monotonic() < reapEnd) {
    for (const g of groups) {
      signalGroup(g, 'SIGKILL');
      signalled.add(g);
    }
    await pause(20);
  }
  return groups.length === 0;
}
