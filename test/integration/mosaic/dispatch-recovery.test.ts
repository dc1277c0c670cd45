// mosaic acceptance 10: the scheduler is SIGKILLed mid-build. The dispatcher runs in a process of its own
// (test/fixtures/mosaic/dispatcher-proc.ts), is killed while its builder runs, and a new dispatcher starts:
// a live builder is adopted by its supervisor's pid and start ticks, a dead one is `crashed` and retried;
// never two builders for one plan.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../../lib/exec/procs.js';
import { makeTmpDir, removeTmpDir, REPO_ROOT } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import {
  attemptsOf,
  eventsOf,
  insertPlan,
  mosaicEnv,
  planOf,
  startDispatcher,
  type MosaicEnv,
  type Running,
} from './dispatch-harness.js';

const PROC = path.join(REPO_ROOT, 'test/fixtures/mosaic/dispatcher-proc.ts');
const TSX = createRequire(import.meta.url).resolve('tsx');

let dir: string;
let env: MosaicEnv | undefined;
let running: Running | undefined;
let proc: ChildProcess | undefined;
const groups: number[] = [];

afterEach(async () => {
  if (proc?.exitCode === null) proc.kill('SIGKILL');
  proc = undefined;
  await running?.stop();
  running = undefined;
  for (const g of groups.splice(0)) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // gone
    }
  }
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

/** Start the dispatcher process and wait until its builder runs (pid in the attempt row). */
async function dispatchInProcess(e: MosaicEnv, id: number): Promise<{ sup: number; dir: string }> {
  const cfgFile = path.join(dir, 'mosaic-cfg.json');
  fs.writeFileSync(cfgFile, JSON.stringify(e.cfg));
  proc = spawn(process.execPath, ['--import', TSX, PROC, e.statePath, cfgFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const a = await waitFor(() => attemptsOf(e, id).find((x) => x.pid !== null), {
    what: 'builder spawned',
    timeoutMs: 30_000,
  });
  groups.push(a.pid!);
  const attemptDir = path.join(e.cfg.scratchDir, 'quicklook_d+55.6_20261203T1200_1300', 'attempt-1');
  await waitFor(() => fs.existsSync(path.join(attemptDir, 'events.log')), { what: 'builder started' });
  return { sup: a.pid!, dir: attemptDir };
}

const starts = (attemptDir: string): number =>
  fs.existsSync(path.join(attemptDir, 'events.log'))
    ? fs
        .readFileSync(path.join(attemptDir, 'events.log'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('start')).length
    : 0;

describe('mosaic acceptance 10: scheduler SIGKILLed mid-build', () => {
  it('a live builder is adopted by pid + start ticks on restart and settled once; no second builder', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'slow:4000', leaseS: 3 });
    const id = insertPlan(env);
    const { sup, dir: attemptDir } = await dispatchInProcess(env, id);
    proc!.kill('SIGKILL');
    await waitFor(() => proc!.exitCode !== null || proc!.signalCode !== null, { what: 'dispatcher dead' });
    expect(isAlive(sup)).toBe(true);
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'built', {
      what: 'adopted build settled',
      timeoutMs: 30_000,
    });
    expect(eventsOf(env, 'mosaic.build_adopted')).toMatchObject([{ pid: sup }]);
    expect(attemptsOf(env, id)).toMatchObject([{ attempt: 1, outcome: 'ok', exit_code: 0 }]);
    expect(starts(attemptDir)).toBe(1);
    expect(env.sql.prepare('SELECT count(*) AS n FROM mosaics WHERE plan_id = ?').get(id)).toEqual({ n: 1 });
  });

  it('a dead builder is crashed and retried at once; the retry builds; the two never overlap', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'hang', leaseS: 3, timeoutS: 120 });
    const id = insertPlan(env);
    const { sup, dir: attemptDir } = await dispatchInProcess(env, id);
    proc!.kill('SIGKILL');
    process.kill(-sup, 'SIGKILL');
    await waitFor(() => !isAlive(sup), { what: 'builder group dead' });
    env.cfg = { ...env.cfg, builder: { ...env.cfg.builder, env: { FAKE_BUILDER_MODE: 'ok' } } };
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'built', { what: 'retry built', timeoutMs: 30_000 });
    const [first, second] = attemptsOf(env, id);
    expect(first).toMatchObject({ attempt: 1, outcome: 'crashed' });
    expect(second).toMatchObject({ attempt: 2, outcome: 'ok' });
    expect(second!.started_at).toBeGreaterThanOrEqual(first!.ended_at!);
    expect(starts(attemptDir)).toBe(1);
  });

  it('a builder still running when its dispatcher died with the lease lapsed is never run twice', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'slow:6000', leaseS: 3 });
    const id = insertPlan(env);
    const { dir: attemptDir } = await dispatchInProcess(env, id);
    proc!.kill('SIGKILL');
    // Past the lease: a claim must not start a second builder beside the live one.
    await waitFor(
      () =>
        (
          env!.sql.prepare('SELECT lease_expires_at AS t FROM jobs WHERE queue = ?').get('mosaic') as {
            t: number;
          }
        ).t < Date.now(),
      { what: 'lease expired' },
    );
    running = startDispatcher(env);
    await waitFor(() => planOf(env!, id).state === 'built', { what: 'built once', timeoutMs: 30_000 });
    expect(attemptsOf(env, id)).toHaveLength(1);
    expect(starts(attemptDir)).toBe(1);
    expect(fs.existsSync(attemptDir.replace('attempt-1', 'attempt-2'))).toBe(false);
  });
});
