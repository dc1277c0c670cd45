// The dispatcher's claim gate and settle hook, through the daemon's own entry points: low disk pauses the
// claims; a conversions lease that expires while the daemon runs (its holder stalled, its converter still
// running) is handed to recovery, which stops that converter before the job runs again; a settle write that
// fails is counted as a dispatch loop error and retried, never run a second time.
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  conversionJobs,
  events,
  FAKE,
  fakeLog,
  groups,
  makeEnv,
  query,
  T0,
  writeGroupFiles,
  type Env,
} from './harness.js';
import { openAttempt, recordAsConverter } from './orphans.js';
import { pidAlive } from './proc.js';
import { trackDaemons } from './track.js';

let env: Env;
const { start } = trackDaemons(() => env, { kill: 'group' });

async function metric(d: RunningDaemon, re: RegExp): Promise<number | null> {
  const m = re.exec(await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text());
  return m ? Number(m[1]) : null;
}

describe('converter dispatch: the claim gate and the settle hook', () => {
  it('below minFreeGb no conversions job is claimed; once there is room again the group converts', async () => {
    env = await makeEnv({ minFreeGb: 10 });
    let free = 1e9;
    const d = await start(env, { freeBytes: () => free });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'ready', { what: 'ready' });
    await waitFor(async () => (await metric(d, /dispatch_paused\{reason="disk"\} (\d+)/)) === 1, {
      what: 'paused',
    });
    expect(groups(env)[0].job_state).toBe('queued');
    expect(fakeLog(env)).toHaveLength(0);
    free = 100e9;
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
    // The settled attempt is counted by outcome (the worker's onSettled hook).
    expect(await metric(d, /conversion_attempts_total\{outcome="ok"\} (\d+)/)).toBe(1);
  });

  it('a lease that expires while the daemon runs is recovered first: its converter is stopped, then the job runs again', async () => {
    env = await makeEnv({ leaseS: 1, killGraceS: 1 });
    let orphan = 0;
    await start(env, {
      afterDispatchCommit: () => {
        if (orphan) return;
        // The holder stalls after the commit (no heartbeat, no outcome) with its converter running.
        const a = openAttempt(env)!;
        const child = spawn(
          process.execPath,
          [FAKE, 'ok', '--manifest', a.manifest_path, '--out', a.output_path, '--delay-ms', '60000'],
          { detached: true, stdio: 'ignore', env: { ...process.env, FAKE_CONVERTER_LOG: env.log } },
        );
        child.unref();
        orphan = child.pid!;
        recordAsConverter(env, a.id, orphan);
        throw new Error('test: the dispatcher stalls after the commit');
      },
    });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(pidAlive(orphan)).toBe(false);
    const starts = fakeLog(env).filter((l) => l.event === 'start');
    expect(starts.map((l) => l.pid)).toEqual([orphan, expect.any(Number)]);
    const stopped = fakeLog(env).find((l) => l.pid === orphan && l.event === 'sigterm');
    expect(stopped).toBeDefined();
    expect(starts[1].t).toBeGreaterThanOrEqual(stopped!.t);
    expect(
      query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts ORDER BY attempt').map(
        (r) => r.outcome,
      ),
    ).toEqual(['crashed', 'ok']);
    expect(events(env, 'converter.attempt_crashed')).toHaveLength(1);
  });

  it('a settle write that fails is counted as a dispatch loop error and retried; the conversion is not run again', async () => {
    env = await makeEnv({ leaseS: 2 });
    const raw = new Database(env.statePath);
    try {
      raw.exec(`CREATE TRIGGER test_no_close BEFORE UPDATE OF ended_at ON converter_attempts
                BEGIN SELECT RAISE(ABORT, 'test: attempt row refused'); END`);
    } finally {
      raw.close();
    }
    const d = await start(env);
    writeGroupFiles(env.incoming, T0);
    const errors = (): Promise<number | null> => metric(d, /loop_errors_total\{loop="dispatch"\} (\d+)/);
    await waitFor(async () => ((await errors()) ?? 0) >= 1, { what: 'settle write failed' });
    const fix = new Database(env.statePath);
    try {
      fix.exec('DROP TRIGGER test_no_close');
    } finally {
      fix.close();
    }
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 20_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(query(env, 'SELECT outcome FROM converter_attempts')).toEqual([{ outcome: 'ok' }]);
  });
});
