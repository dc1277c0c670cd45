// The pipeline database under another process's locks: a long write transaction on the WAL file does not
// stop the flux and validity jobs; an exclusive lock held past the busy timeout ends them with a clean
// `error`, CalibrationRegistryUnreadable fires only on the second unreadable run in a row, and the first
// readable run resolves it. The runner stays usable throughout.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../../../daemons/scheduler/runner.js';
import { forkFixture, killAll, type Forked } from '../../fixtures/queue/fork.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { firing, mjdOf, schedulerEnv, type SchedulerEnv } from './helpers.js';

let env: SchedulerEnv | undefined;
let dir = '';
const children: Forked<unknown>[] = [];
afterEach(() => {
  killAll(children.splice(0));
  env?.close();
  env = undefined;
  removeTmpDir(dir);
});

const LOCKER = path.join('..', 'scheduler', 'pipeline-locker.ts');

async function lock(
  file: string,
  mode: 'write' | 'exclusive',
): Promise<Forked<{ locked?: boolean; released?: boolean }>> {
  const f = forkFixture<{ locked?: boolean; released?: boolean }>(LOCKER, [file, mode]);
  children.push(f);
  await waitFor(() => f.messages.some((m) => m.locked), { what: `${mode} lock` });
  return f;
}

function seed(p: Database.Database): void {
  const now = Date.now();
  p.prepare(
    `INSERT INTO caltables (set_name, path, table_type, order_index, created_at, valid_start_mjd, valid_end_mjd)
     VALUES ('s', '/nonexistent/s_bp', 'BP', 30, ?, ?, ?), ('s', '/nonexistent/s_gp', 'GP', 50, ?, ?, ?)`,
  ).run(
    now / 1000,
    mjdOf(now - 3_600_000),
    mjdOf(now + 3_600_000),
    now / 1000,
    mjdOf(now - 3_600_000),
    mjdOf(now + 3_600_000),
  );
  p.prepare(
    `INSERT INTO calibration_monitoring (calibrator_name, ms_path, observed_flux_jy, catalog_flux_jy, flux_ratio,
       frequency_ghz, mjd, created_at) VALUES ('3C286', '/ms/a', 15, 15, 1, 1.4, ?, ?)`,
  ).run(mjdOf(now), now / 1000);
}

describe('pipeline database contention', () => {
  it('(a) a long write transaction elsewhere: flux and validity still read and succeed', async () => {
    dir = makeTmpDir('contimg-contention-');
    env = await schedulerEnv(dir, { scheduler: { validity: { checkFilesExist: false } } });
    seed(env.pipelineRw);
    const holder = await lock(env.pipelinePath, 'write');
    const runner = new JobRunner(env.ctx);
    const t0 = performance.now();
    expect((await runner.run({ job: 'flux', trigger: 'manual', scheduledFor: null })).result).toBe('ok');
    expect((await runner.run({ job: 'validity', trigger: 'manual', scheduledFor: null })).result).toBe('ok');
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(firing(env.statePath)).toEqual([]);
    holder.child.send('release');
    await holder.exited;
  });

  it('(b) an exclusive lock past the busy timeout: clean errors, the alert only per its dampening', async () => {
    dir = makeTmpDir('contimg-contention-');
    // In WAL mode nothing can take the file exclusively while we hold a connection; a pipeline file in
    // rollback-journal mode under an EXCLUSIVE transaction (a VACUUM, a migration) shuts every reader out.
    env = await schedulerEnv(
      dir,
      { databases: { busyTimeoutMs: 300 }, scheduler: { validity: { checkFilesExist: false } } },
      { pipelineJournal: 'delete' },
    );
    seed(env.pipelineRw);
    const runner = new JobRunner(env.ctx);
    expect((await runner.run({ job: 'validity', trigger: 'manual', scheduledFor: null })).result).toBe('ok');
    const holder = await lock(env.pipelinePath, 'exclusive');

    const flux = await runner.run({ job: 'flux', trigger: 'manual', scheduledFor: null });
    expect(flux.result).toBe('error');
    expect(flux.error).toMatch(/DB_BUSY|locked/);
    const v1 = await runner.run({ job: 'validity', trigger: 'manual', scheduledFor: null });
    expect(v1.result).toBe('error');
    expect(v1.error).toMatch(/calibration registry unreadable/);
    expect(firing(env.statePath)).toEqual([]);
    const v2 = await runner.run({ job: 'validity', trigger: 'manual', scheduledFor: null });
    expect(v2.result).toBe('error');
    expect(firing(env.statePath)).toEqual(['CalibrationRegistryUnreadable:critical']);

    holder.child.send('release');
    await holder.exited;
    expect((await runner.run({ job: 'validity', trigger: 'manual', scheduledFor: null })).result).toBe('ok');
    expect((await runner.run({ job: 'flux', trigger: 'manual', scheduledFor: null })).result).toBe('ok');
    expect(firing(env.statePath)).toEqual([]);
    const db = new Database(env.statePath, { readonly: true });
    const results = db.prepare('SELECT job, result FROM job_runs ORDER BY id').all() as {
      job: string;
      result: string;
    }[];
    db.close();
    expect(results.map((r) => `${r.job}:${r.result}`)).toEqual([
      'validity:ok',
      'flux:error',
      'validity:error',
      'validity:error',
      'validity:ok',
      'flux:ok',
    ]);
  });
});
