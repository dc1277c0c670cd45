// The local executor's status (what `converter show` and the API say runs an attempt) and cancel (an
// operator's abandon) on real processes: a live converter, a dead one, a reused pid whose start ticks differ,
// a process group led by a supervisor, a process that ignores SIGTERM. The executor comes from a real
// dispatcher on a migrated state database; the attempt rows are made here, as the daemon would have written them.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptRow } from '../../../daemons/streaming-converter/attempts.js';
import type { Ctx } from '../../../daemons/streaming-converter/context.js';
import { Dispatcher } from '../../../daemons/streaming-converter/dispatch.js';
import type { ConversionExecutor } from '../../../daemons/streaming-converter/executor.js';
import { conversionStore, KIND, QUEUE } from '../../../daemons/streaming-converter/jobs.js';
import { converterMetrics } from '../../../daemons/streaming-converter/metrics.js';
import { systemClock } from '../../../lib/clock.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { ATTEMPT_MARKER } from '../../../lib/exec/procs.js';
import { silentLogger } from '../../../lib/log.js';
import { Registry } from '../../../lib/metrics.js';
import { queueMetrics } from '../../../lib/queue/index.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { DEAD_PID, spawnBystander, startTicks } from '../../integration/converter/orphans.js';
import { makeEnv, type Env } from '../../integration/converter/harness.js';
import { pidAlive } from '../../integration/converter/proc.js';

let env: Env;
let db: Db;
let local: ConversionExecutor;
const spawned: number[] = [];

beforeEach(async () => {
  env = await makeEnv({ killGraceS: 1 });
  db = openDb({ name: 'state', path: env.statePath });
  const registry = new Registry();
  const cfg = env.config.streamingConverter;
  const ctx: Ctx = {
    cfg,
    db,
    clock: systemClock,
    log: silentLogger(),
    m: converterMetrics(registry),
    queue: conversionStore(db, cfg, {
      clock: systemClock,
      metrics: queueMetrics(registry, [QUEUE], [KIND]),
    }),
  };
  local = new Dispatcher(ctx, {}, () => {}).executorFor('local');
});

afterEach(() => {
  for (const pid of spawned.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  db.close();
  removeTmpDir(env.dir);
});

function track(pid: number): number {
  spawned.push(pid);
  return pid;
}

/** An attempt row of the local executor; its directory (with the manifest) is made under scratch. */
function row(over: Partial<AttemptRow> = {}, dir = path.join(env.scratch, 'G1', 'attempt-1')): AttemptRow {
  fs.mkdirSync(dir, { recursive: true });
  const manifest = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifest, '{}');
  return {
    id: 1,
    group_ref: 1,
    attempt: 1,
    job_id: 1,
    lease_token: 1,
    started_at: Date.now(),
    spawned_at: null,
    ended_at: null,
    pid: null,
    pgid: null,
    pid_start_ticks: null,
    exit_code: null,
    signal: null,
    outcome: null,
    stdout_tail: null,
    stderr_tail: null,
    result_json: null,
    manifest_path: manifest,
    output_path: path.join(env.out, 'G1.ms'),
    error: null,
    executor: 'local',
    slurm_job_name: null,
    slurm_job_id: null,
    slurm_state: null,
    ...over,
  };
}

/** A live process recorded as the attempt's converter (its own group, its start ticks). */
function recorded(pid: number, over: Partial<AttemptRow> = {}): AttemptRow {
  return row({ pid, pgid: pid, pid_start_ticks: startTicks(pid), spawned_at: Date.now(), ...over });
}

/** A process carrying the attempt's marker in its environment, as the supervisor and converter do. */
function spawnMarked(dir: string, script = 'setInterval(() => {}, 1000)'): number {
  const child = spawn(process.execPath, ['-e', script], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, [ATTEMPT_MARKER]: dir },
  });
  child.unref();
  return track(child.pid!);
}

describe('local executor status', () => {
  it('an attempt with no converter yet is pending, with no detail', async () => {
    expect(await local.status(row())).toEqual({ executor: 'local', phase: 'pending', detail: null });
  });

  it('a live recorded converter is running, its pid the detail', async () => {
    const pid = track(spawnBystander());
    expect(await local.status(recorded(pid))).toEqual({
      executor: 'local',
      phase: 'running',
      detail: String(pid),
    });
  });

  it('a live converter recorded without start ticks is running', async () => {
    const pid = track(spawnBystander());
    const s = await local.status(recorded(pid, { pid_start_ticks: null }));
    expect(s.phase).toBe('running');
  });

  it('a recorded converter that is gone is unknown, its pid still the detail', async () => {
    expect(await local.status(row({ pid: DEAD_PID, pgid: DEAD_PID, pid_start_ticks: 1 }))).toEqual({
      executor: 'local',
      phase: 'unknown',
      detail: String(DEAD_PID),
    });
  });

  it('a reused pid (same pid, other start ticks) is not the converter: unknown', async () => {
    const pid = track(spawnBystander());
    const s = await local.status(recorded(pid, { pid_start_ticks: startTicks(pid) + 1 }));
    expect(s).toEqual({ executor: 'local', phase: 'unknown', detail: String(pid) });
  });

  it('an ended attempt is ended, even while its recorded pid is alive', async () => {
    const pid = track(spawnBystander());
    const s = await local.status(recorded(pid, { ended_at: Date.now(), outcome: 'ok' }));
    expect(s).toEqual({ executor: 'local', phase: 'ended', detail: String(pid) });
  });
});

describe('local executor cancel', () => {
  it("stops every process carrying the attempt's marker, and nothing else", async () => {
    const a = row();
    const dir = path.dirname(a.manifest_path!);
    const marked = [spawnMarked(dir), spawnMarked(dir)];
    const other = spawnMarked(path.join(env.scratch, 'G2', 'attempt-1'));
    const bystander = track(spawnBystander());
    await waitFor(() => marked.every(pidAlive), { what: 'marked processes up' });
    await local.cancel(a);
    expect(marked.map(pidAlive)).toEqual([false, false]);
    expect(pidAlive(other)).toBe(true);
    expect(pidAlive(bystander)).toBe(true);
  });

  it("finds the attempt's directory by cutting only the manifest's own name from its path", async () => {
    // A scratch folder that happens to be called manifest.json: the directory is the manifest's parent.
    const a = row({}, path.join(env.scratch, 'manifest.json', 'G1', 'attempt-1'));
    const marked = spawnMarked(path.dirname(a.manifest_path!));
    await local.cancel(a);
    expect(pidAlive(marked)).toBe(false);
  });

  it("stops the recorded converter's whole process group (pgid over pid)", async () => {
    // A supervisor leading its group, the converter its child: the row names the converter and the group.
    const leader = spawn(
      process.execPath,
      [
        '-e',
        `const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'],
           { stdio: 'ignore' });
         console.log(c.pid); setInterval(() => {}, 1000);`,
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    track(leader.pid!);
    const child = await new Promise<number>((resolve) =>
      leader.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))),
    );
    leader.unref();
    await local.cancel(recorded(child, { pgid: leader.pid! }));
    expect(pidAlive(leader.pid!)).toBe(false);
    expect(pidAlive(child)).toBe(false);
  });

  it('a recorded converter with no process group recorded is stopped by its pid', async () => {
    const pid = track(spawnBystander());
    await local.cancel(recorded(pid, { pgid: null }));
    expect(pidAlive(pid)).toBe(false);
  });

  it('a reused pid (other start ticks) is not signalled', async () => {
    const pid = track(spawnBystander());
    await local.cancel(recorded(pid, { pid_start_ticks: startTicks(pid) + 1 }));
    expect(pidAlive(pid)).toBe(true);
  });

  it('a converter that ignores SIGTERM is killed once the grace (killGraceS) has passed', async () => {
    const a = row();
    const ready = path.join(env.dir, 'ready');
    const stubborn = spawnMarked(
      path.dirname(a.manifest_path!),
      `process.on('SIGTERM', () => {}); require('node:fs').writeFileSync(${JSON.stringify(ready)}, '');
       setInterval(() => {}, 1000);`,
    );
    await waitFor(() => fs.existsSync(ready), { what: 'SIGTERM ignored' });
    const t0 = Date.now();
    await local.cancel(a);
    expect(pidAlive(stubborn)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('an attempt with no directory recorded stops nothing, not even a live recorded pid', async () => {
    const pid = track(spawnBystander());
    await local.cancel(recorded(pid, { manifest_path: null }));
    expect(pidAlive(pid)).toBe(true);
  });

  it('an attempt that ended (exit.json written, nothing running) is cancelled at once, its files left', async () => {
    const a = row({ ended_at: Date.now(), outcome: 'ok', pid: DEAD_PID, pgid: DEAD_PID, pid_start_ticks: 1 });
    const exit = path.join(path.dirname(a.manifest_path!), 'exit.json');
    fs.writeFileSync(exit, JSON.stringify({ exitCode: 0 }));
    const t0 = Date.now();
    await local.cancel(a);
    await local.cancel(a);
    expect(Date.now() - t0).toBeLessThan(900);
    expect(fs.existsSync(exit)).toBe(true);
  });
});
