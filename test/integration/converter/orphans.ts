// What a dead converter daemon leaves behind, made in process: an open attempt whose job is leased to a
// daemon that is gone, and (optionally) an orphaned converter recorded in the attempt row. The recovery and
// dispatch tests start a fresh daemon on top of it and look at what it does (through the database, the
// fake converter's log and the processes), never at its internals.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AttemptRow } from '../../../daemons/streaming-converter/attempts.js';
import { parseConfig } from '../../../lib/config/index.js';
import { waitFor } from '../../helpers/wait.js';
import { expandArgv } from '../../../daemons/streaming-converter/argv.js';
import { attemptKey, supervisedArgv } from '../../../lib/exec/attempt-files.js';
import { ATTEMPT_MARKER } from '../../../lib/exec/procs.js';
import { FAKE, fakeArgv, query, startInProcess, T0, writeGroupFiles, type Env } from './harness.js';
import { procStat } from './proc.js';

/** Above the kernel's largest pid_max (2^22): a pid that is never alive. */
export const DEAD_PID = 2 ** 22 + 1;

export type OpenAttemptRow = Pick<
  AttemptRow,
  'id' | 'group_ref' | 'attempt' | 'job_id' | 'lease_token' | 'pid'
> & { manifest_path: string; output_path: string };

/** The same test environment with some streamingConverter keys changed (configs are frozen). */
export function withSection(env: Env, section: Record<string, unknown>): Env {
  const raw = {
    ...env.raw,
    streamingConverter: { ...(env.raw.streamingConverter as Record<string, unknown>), ...section },
  };
  return { ...env, raw, config: parseConfig(raw, env.dir) };
}

export function openAttempt(env: Env): OpenAttemptRow | undefined {
  return query<OpenAttemptRow>(env, 'SELECT * FROM converter_attempts WHERE ended_at IS NULL')[0];
}

/** Write to the state database from the test, as another process would. */
export function tamper<T>(env: Env, fn: (db: Database.Database) => T): T {
  const db = new Database(env.statePath);
  try {
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * A daemon that dispatched one group and died before spawning its converter: its dispatcher stalls after the
 * dispatch commit, the daemon is stopped, and the job's lease is handed to an owner on this host whose pid is
 * not alive (as a SIGKILLed daemon leaves it). Returns the open attempt.
 */
export async function diedAfterDispatch(env: Env, obsMs = T0): Promise<OpenAttemptRow> {
  let stalled = false;
  const d = await startInProcess(env, {
    afterDispatchCommit: () => {
      if (stalled) return;
      stalled = true;
      throw new Error('test: the daemon dies between the dispatch commit and spawn');
    },
  });
  try {
    writeGroupFiles(env.incoming, obsMs);
    await waitFor(() => openAttempt(env), { what: 'dispatched attempt' });
  } finally {
    await d.stop();
  }
  tamper(env, (db) =>
    db
      .prepare(`UPDATE jobs SET lease_owner = ? WHERE queue = 'conversions' AND state = 'running'`)
      .run(`${os.hostname()}:${DEAD_PID}:converter:dead00`),
  );
  return openAttempt(env)!;
}

/** The process's start time in clock ticks (/proc/<pid>/stat field 22). */
export function startTicks(pid: number): number {
  return procStat(pid)!.ticks;
}

/** Record a process in the attempt row as its converter (pid, process group, start ticks). */
export function recordAsConverter(env: Env, attemptId: number, pid: number, ticks = startTicks(pid)): void {
  tamper(env, (db) =>
    db
      .prepare(
        'UPDATE converter_attempts SET pid = ?, pgid = ?, pid_start_ticks = ?, spawned_at = ? WHERE id = ?',
      )
      .run(pid, pid, ticks, Date.now(), attemptId),
  );
}

/** Start the fake converter for the attempt in its own process group, as the dead daemon would have. */
export function spawnOrphan(
  env: Env,
  a: OpenAttemptRow,
  mode: string,
  delayMs = 0,
  extraEnv: Record<string, string> = {},
): number {
  const child = spawn(
    process.execPath,
    [FAKE, mode, '--manifest', a.manifest_path, '--out', a.output_path, '--delay-ms', String(delayMs)],
    { detached: true, stdio: 'ignore', env: { ...process.env, FAKE_CONVERTER_LOG: env.log, ...extraEnv } },
  );
  child.unref();
  return child.pid!;
}

/**
 * Start the fake converter for the attempt the way the dispatcher does, under the attempt's supervisor (its
 * own process group, cwd = the attempt directory, the attempt's marker in the environment), as a daemon that
 * died right after spawning it would leave it. Returns the supervisor's pid.
 */
export function spawnSupervised(env: Env, a: OpenAttemptRow, mode: string, delayMs = 0): number {
  const dir = path.dirname(a.manifest_path);
  const [row] = query<{ started_at: number }>(
    env,
    'SELECT started_at FROM converter_attempts WHERE id = ?',
    a.id,
  );
  const argv = expandArgv(fakeArgv(mode, delayMs), {
    manifest: a.manifest_path,
    out: a.output_path,
    result: path.join(dir, 'result.json'),
    scratch: dir,
    group: path.basename(path.dirname(dir)),
  });
  const [cmd, ...args] = supervisedArgv(attemptKey({ id: a.id, started_at: row.started_at }), argv);
  const child = spawn(cmd, args, {
    cwd: dir,
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, FAKE_CONVERTER_LOG: env.log, [ATTEMPT_MARKER]: dir },
  });
  child.unref();
  return child.pid!;
}

/** A process that has nothing to do with the converter (in its own process group). */
export function spawnBystander(): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child.pid!;
}
