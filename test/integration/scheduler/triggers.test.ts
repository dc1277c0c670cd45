// The scheduler daemon in-process (lib/daemon's startDaemon, real node-cron triggers, real SQLite files):
// an overlapping trigger is `skipped_overlap`, a run past its timeout is `timeout` with its probes aborted,
// three failed runs fire SchedulerJobFailing; a job last run 2 h ago runs exactly once at start, and a
// restarted scheduler keeps the health dampening counters.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { silentLogger } from '../../../lib/log.js';
import { run } from '../../../daemons/scheduler/run.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { firing, jobRuns as runs, rawConfig } from './helpers.js';
import { freshDatabases } from '../../helpers/db.js';
import { statusServer } from './shims.js';
import path from 'node:path';

let dir = '';
const daemons: RunningDaemon[] = [];
let server: Awaited<ReturnType<typeof statusServer>> | undefined;
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop('test over');
  await server?.close();
  server = undefined;
  removeTmpDir(dir);
});

async function start(raw: Record<string, unknown>): Promise<RunningDaemon> {
  const config = parseConfig(raw, dir);
  const d = await startDaemon({ name: 'scheduler', run, config, log: silentLogger(), port: 0 });
  daemons.push(d);
  return d;
}

const DISABLED = { enabled: false };

describe('scheduler triggers', () => {
  it('records the overlapping trigger, times the slow run out, fires SchedulerJobFailing after three', async () => {
    dir = makeTmpDir('contimg-sched-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    server = await statusServer();
    // A health job that cannot finish: one endpoint never answers and its probe would wait a minute.
    const raw = rawConfig(dir, statePath, pipelinePath, {
      scheduler: {
        jobs: {
          health: { cron: '*/5 * * * * *', timeoutS: 4 },
          validity: DISABLED,
          flux: DISABLED,
          retention: DISABLED,
          watchdog: DISABLED,
        },
        health: {
          http: [{ name: 'hang', url: server.url('/hang'), timeoutMs: 60_000 }],
          sqlite: [],
          disks: [],
        },
      },
    });
    // Start 1.5–2.5 s after a 5 s slot: the catch-up run (4 s) is still going at the next slot.
    await waitFor(() => Date.now() % 5000 >= 1500 && Date.now() % 5000 < 2500, {
      intervalMs: 20,
      what: 'the right moment',
    });
    await start(raw);
    await waitFor(() => runs(statePath, 'health').filter((r) => r.result === 'timeout').length >= 3, {
      timeoutMs: 40_000,
      intervalMs: 200,
      what: 'three timed-out health runs',
    });
    const rows = runs(statePath, 'health');
    expect(rows[0]).toMatchObject({ trigger: 'catchup', result: 'timeout' });
    expect(rows[1]).toMatchObject({ trigger: 'cron', result: 'skipped_overlap' });
    expect(rows[1].error).toMatch(/still in progress/);
    const timeouts = rows.filter((r) => r.result === 'timeout');
    for (const t of timeouts) {
      expect(t.duration_ms).toBeGreaterThanOrEqual(3_900);
      expect(t.duration_ms).toBeLessThan(7_000);
      expect(t.error).toMatch(/exceeded its 4 s timeout/);
    }
    // Cron slots are whole 5 s marks, each with at most one row.
    const slots = rows.filter((r) => r.trigger === 'cron').map((r) => r.scheduled_for!);
    expect(slots.every((s) => s % 5000 === 0)).toBe(true);
    expect(new Set(slots).size).toBe(slots.length);
    await waitFor(() => firing(statePath).includes('SchedulerJobFailing{health}:critical'), {
      what: 'SchedulerJobFailing{job="health"}',
    });
    // Each aborted probe closed its request: at most the run in progress holds one open.
    expect(server.requests()).toBeGreaterThanOrEqual(3);
    expect(server.openHung()).toBeLessThanOrEqual(1);
  }, 60_000);

  it('a job last run 2 h ago runs exactly once at start; a restart keeps the dampening counters', async () => {
    dir = makeTmpDir('contimg-sched-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    // Slots half an hour back (and the next ones half an hour ahead): the catch-up is the only run.
    const minute = (new Date().getUTCMinutes() + 30) % 60;
    const hourly = `${minute} * * * *`;
    const refused = `http://127.0.0.1:${await freePort()}/readyz`;
    const raw = rawConfig(dir, statePath, pipelinePath, {
      scheduler: {
        jobs: {
          health: { cron: hourly },
          validity: { cron: hourly },
          flux: { cron: hourly },
          retention: { cron: hourly },
          watchdog: DISABLED,
        },
        health: { http: [{ name: 'gone', url: refused, timeoutMs: 1000 }], sqlite: [], disks: [] },
        // The mosaic jobs would catch up too (their own tests cover them).
        mosaic: { enabled: false },
      },
    });
    const db = new Database(statePath);
    const twoHoursAgo = Date.now() - 2 * 3_600_000;
    const seed = db.prepare(
      `INSERT INTO job_runs (job, trigger, scheduled_for, started_at, finished_at, duration_ms, result, owner)
       VALUES (?, 'cron', ?, ?, ?, 5, 'ok', 'elsewhere:1:scheduler:000000')`,
    );
    for (const job of ['health', 'validity', 'flux', 'retention'])
      seed.run(job, twoHoursAgo, twoHoursAgo, twoHoursAgo + 5);
    db.close();

    const first = await start(raw);
    await waitFor(
      () => runs(statePath).filter((r) => r.trigger === 'catchup' && r.result !== 'running').length === 4,
      {
        what: 'four catch-up runs',
      },
    );
    // Give any (wrong) second run time to appear, then check there is none.
    await new Promise((r) => setTimeout(r, 1500));
    const after = runs(statePath).filter((r) => r.id > 4);
    expect(after.map((r) => `${r.job}:${r.trigger}:${r.result}`).sort()).toEqual([
      'flux:catchup:ok',
      'health:catchup:ok',
      'retention:catchup:ok',
      'validity:catchup:ok',
    ]);
    expect(new Set(after.map((r) => r.scheduled_for)).size).toBe(1);
    // The unreachable endpoint failed once: no alert yet.
    expect(firing(statePath)).not.toContain('HttpEndpointDown{gone}:critical');
    await first.stop('restart');
    daemons.splice(0);

    // A restarted scheduler catches up nothing (each job succeeded since its slot) and continues the count.
    const second = await start(raw);
    const res = await fetch(`http://127.0.0.1:${second.port}/api/jobs/health/run`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { result: string }).result).toBe('ok');
    expect(firing(statePath)).toContain('HttpEndpointDown{gone}:critical');
    expect(runs(statePath).filter((r) => r.trigger === 'catchup')).toHaveLength(4);
    const jobs = (await (await fetch(`http://127.0.0.1:${second.port}/api/jobs`)).json()) as {
      leader: boolean;
      jobs: { job: string; lastRun: { trigger: string } | null }[];
    };
    expect(jobs.leader).toBe(true);
    expect(jobs.jobs.find((j) => j.job === 'health')?.lastRun?.trigger).toBe('manual');
    const unknown = await fetch(`http://127.0.0.1:${second.port}/api/jobs/nope/run`, { method: 'POST' });
    expect(unknown.status).toBe(404);
  }, 60_000);
});
