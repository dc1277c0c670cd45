// What an attempt's supervisor keeps in the attempt directory (the converter's scratchDir/<group>/attempt-N,
// a mosaic build's scratchDir/<plan>/attempt-N: the command's cwd), which outlives the daemon: who runs the
// attempt (supervisor.json, written before the command starts), how the command ended (exit.json, written
// atomically when it ends) and what it printed (stdout.log, stderr.log). The dispatcher reads them when the
// supervisor exits and recovery reads them after a crash, so a finished attempt is settled from the same
// facts either way. Node built-ins only: the
// supervisor imports this file too.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { execPath } from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TAIL_BYTES } from './child.js';

export const SUPERVISOR_FILE = 'supervisor.json';
export const EXIT_FILE = 'exit.json';
export const STDOUT_FILE = 'stdout.log';
export const STDERR_FILE = 'stderr.log';
export const RESULT_FILE = 'result.json';

/** Who runs the attempt: the supervisor's pid (also its process group) and start ticks. */
export interface SupervisorRecord {
  key: string;
  pid: number;
  startTicks: number | null;
  startedAt: number;
}

/** How the supervised command ended, as its parent (the supervisor) saw it. */
export interface ExitRecord {
  key: string;
  exitCode: number | null;
  signal: string | null;
  spawnError: string | null;
  startedAt: number;
  endedAt: number;
}

/**
 * One run of one attempt: the attempt row's id and dispatch time. Files written under another key are left
 * over from an earlier run in a reused directory (a recreated database), never this attempt's facts.
 */
export function attemptKey(a: { id: number; started_at: number }): string {
  return `${a.id}.${a.started_at}`;
}

/** Write JSON by temp file, fsync and rename: a reader sees the whole record or none. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, JSON.stringify(value));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

function readRecord(file: string, key: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (!v || typeof v !== 'object' || (v as { key?: unknown }).key !== key) return null;
    return v as Record<string, unknown>;
  } catch {
    return null;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function readSupervisor(dir: string, key: string): SupervisorRecord | null {
  const r = readRecord(path.join(dir, SUPERVISOR_FILE), key);
  const pid = num(r?.pid);
  if (!r || pid === null || pid <= 0) return null;
  return { key, pid, startTicks: num(r.startTicks), startedAt: num(r.startedAt) ?? 0 };
}

export function readExit(dir: string, key: string): ExitRecord | null {
  const r = readRecord(path.join(dir, EXIT_FILE), key);
  if (!r) return null;
  return {
    key,
    exitCode: num(r.exitCode),
    signal: str(r.signal),
    spawnError: str(r.spawnError),
    startedAt: num(r.startedAt) ?? 0,
    endedAt: num(r.endedAt) ?? 0,
  };
}

/** The last `bytes` of a file as text ('' when it does not exist). */
export function readTail(file: string, bytes = TAIL_BYTES): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Remove what an earlier run may have left in a reused attempt directory, before the supervisor starts. */
export function clearAttemptFiles(dir: string): void {
  for (const f of [SUPERVISOR_FILE, EXIT_FILE, STDOUT_FILE, STDERR_FILE, RESULT_FILE])
    fs.rmSync(path.join(dir, f), { force: true });
}

/**
 * The argv that runs `argv` under the supervisor: supervise.js next to this module when built; from the
 * sources (tsx, vitest) supervise.ts with tsx's loader, named by absolute URL because the child's cwd is the
 * attempt directory, where `tsx` would not resolve.
 */
export function supervisedArgv(key: string, argv: readonly string[]): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  if (!import.meta.url.endsWith('.ts'))
    return [execPath, path.join(here, 'supervise.js'), key, '--', ...argv];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [execPath, '--import', tsx, path.join(here, 'supervise.ts'), key, '--', ...argv];
}
