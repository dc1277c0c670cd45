// registerMosaicOps: the requeue, cancel, pause and resume subcommands on a `mosaic` command, run in process
// against a real config file and state database (the lead wires them into `contimg mosaic`).
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerMosaicOps } from '../../../cli/mosaic-ops.js';
import { loadConfigSupport } from '../../../cli/util.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { alertsNamed, insertPlan, jobOf, mosaicEnv, planOf, type MosaicEnv } from './dispatch-harness.js';

let dir: string;
let env: MosaicEnv | undefined;

afterEach(() => {
  vi.restoreAllMocks();
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

async function run(...args: string[]): Promise<string> {
  await loadConfigSupport();
  const program = new Command().exitOverride();
  registerMosaicOps(program.command('mosaic'));
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'contimg', 'mosaic', ...args, '--config', env!.configFile]);
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

describe('contimg mosaic requeue | cancel | pause | resume', () => {
  it('pause and resume write and lift the operator pause', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'ok' });
    expect(await run('pause', '--note', 'disk swap')).toMatch(/^mosaic dispatch paused since \d{4}-/);
    expect(env.sql.prepare('SELECT reason, note FROM mosaic_dispatch_pauses').all()).toEqual([
      { reason: 'operator', note: 'disk swap' },
    ]);
    expect(JSON.parse(await run('resume', '--json'))).toEqual({ wasPaused: true });
    expect(await run('resume')).toBe('mosaic dispatch was not paused\n');
  });

  it('cancel a queued plan by name, then requeue it by id', async () => {
    dir = makeTmpDir();
    env = await mosaicEnv(dir, { mode: 'ok' });
    const id = insertPlan(env);
    expect(await run('cancel', 'quicklook_d+55.6_20261203T1200_1300')).toBe(
      'quicklook_d+55.6_20261203T1200_1300: cancelled (was queued)\n',
    );
    expect(planOf(env, id).state).toBe('cancelled');
    expect(jobOf(env, id).state).toBe('cancelled');
    const r = JSON.parse(await run('requeue', String(id), '--json')) as { plan: string; jobId: number };
    expect(r.plan).toBe('quicklook_d+55.6_20261203T1200_1300');
    expect(planOf(env, id).state).toBe('queued');
    expect(jobOf(env, id)).toMatchObject({ state: 'queued' });
    expect(alertsNamed(env, 'MosaicBuildFailed')).toEqual([]);
    await expect(run('cancel', 'no_such_plan')).rejects.toThrow(/no mosaic plan no_such_plan/);
  });
});
