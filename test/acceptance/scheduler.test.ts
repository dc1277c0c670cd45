// Acceptance: the BUILT scheduler (dist/daemons/scheduler/main.js) as real processes against a temporary
// config and real SQLite files. One process: catch-up at start, /metrics, /api/*, clean SIGTERM. Two
// processes on one database: only the lease holder runs the jobs, each cron slot once; when it is killed the
// standby takes over. SIGKILL during a job leaves a `running` row that the next start marks `crashed`.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDatabases } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { jobRuns as rows } from '../integration/scheduler/helpers.js';
import { statusServer } from '../integration/scheduler/shims.js';

const MAIN = path.join(REPO_ROOT, 'dist/daemons/scheduler/main.js');

interface Proc {
  child: ChildProcess;
  port: number;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let dir = '';
const procs: Proc[] = [];
let server: Awaited<ReturnType<typeof statusServer>> | undefined;
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  await server?.close();
  server = undefined;
  removeTmpDir(dir);
});

async function start(config: string, port: number): Promise<Proc> {
  let out = '';
  const child = spawn(process.execPath, [MAIN, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const p = { child, port, out: () => out, exited };
  procs.push(p);
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`scheduler exited ${child.exitCode}: ${out.slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    },
    { what: 'scheduler ready', timeoutMs: 30_000, intervalMs: 100 },
  );
  return p;
}

function writeConfig(name: string, raw: Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, YAML.stringify(raw));
  return file;
}

const quietHealth = { systemd: { units: [] }, http: [], sqlite: [], gpu: { enabled: false } };

describe('contimg-scheduler (built)', () => {
  it('catches up at start, serves metrics and its API, stops cleanly', async () => {
    dir = makeTmpDir('contimg-sched-acc-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    const port = await freePort();
    const config = writeConfig('contimg.yaml', {
      dataDir: dir,
      databases: { state: statePath, pipeline: pipelinePath },
      log: { level: 'warn' },
      scheduler: { port, health: { systemd: { units: [] }, http: [], gpu: { enabled: false } } },
    });
    const p = await start(config, port);
    await waitFor(() => rows(statePath).filter((r) => r.result === 'ok').length === 8, {
      what: 'eight catch-up runs',
    });
    expect(
      rows(statePath)
        .map((r) => `${r.job}:${r.trigger}`)
        .sort(),
    ).toEqual([
      'flux:catchup',
      'health:catchup',
      'mosaicQuicklook:catchup',
      'mosaicScience:catchup',
      'mosaicWatchdog:catchup',
      'retention:catchup',
      'validity:catchup',
      'watchdog:catchup',
    ]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/contimg_scheduler_job_runs_total\{task="health",result="ok"\} 1/);
    expect(metrics).toMatch(/contimg_scheduler_leader 1/);
    expect(metrics).toMatch(/contimg_health_overall_status 0/);
    expect(metrics).toMatch(/contimg_health_target_status\{kind="sqlite",target="state"\} 0/);
    expect(metrics).toMatch(/contimg_scheduler_job_last_success_timestamp_seconds\{task="flux"\} \d+/);
    expect(metrics).toMatch(/contimg_retention_rows_pruned_total\{table="events"\} 0/);
    const health = (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as {
      status: string;
      targets: unknown[];
    };
    expect(health.status).toBe('healthy');
    expect(health.targets).toHaveLength(3); // both databases and the data folder's disk
    const validity = (await (await fetch(`http://127.0.0.1:${port}/api/validity`)).json()) as {
      findings: { alertname: string }[];
    };
    expect(validity.findings.map((f) => f.alertname)).toEqual(['CalibrationStale']);
    const flux = (await (await fetch(`http://127.0.0.1:${port}/api/flux`)).json()) as { noData: boolean };
    expect(flux.noData).toBe(true);
    const run = await fetch(`http://127.0.0.1:${port}/api/jobs/watchdog/run`, { method: 'POST' });
    expect(((await run.json()) as { result: string }).result).toBe('ok');
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });

  it('two schedulers on one database: only the lease holder runs the jobs, once per slot; the standby takes over', async () => {
    dir = makeTmpDir('contimg-sched-acc-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    const [portA, portB] = [await freePort(), await freePort()];
    const scheduler = (port: number) => ({
      port,
      leaseTtlS: 2,
      jobs: {
        health: { cron: '*/3 * * * * *', timeoutS: 2.5 },
        watchdog: { cron: '*/4 * * * * *', timeoutS: 3 },
        validity: { enabled: false },
        flux: { enabled: false },
        retention: { enabled: false },
      },
      health: quietHealth,
    });
    const base = {
      dataDir: dir,
      databases: { state: statePath, pipeline: pipelinePath },
      log: { level: 'warn' },
    };
    const a = await start(writeConfig('a.yaml', { ...base, scheduler: scheduler(portA) }), portA);
    await waitFor(() => rows(statePath).some((r) => r.trigger === 'catchup'), { what: 'A leading' });
    const b = await start(writeConfig('b.yaml', { ...base, scheduler: scheduler(portB) }), portB);
    const jobsB = (await (await fetch(`http://127.0.0.1:${portB}/api/jobs`)).json()) as { leader: boolean };
    expect(jobsB.leader).toBe(false);
    const t = Date.now();
    await waitFor(
      () => rows(statePath).filter((r) => r.trigger === 'cron' && r.scheduled_for! > t).length >= 8,
      {
        what: 'eight cron runs with both running',
        timeoutMs: 30_000,
      },
    );
    const both = rows(statePath).filter((r) => r.trigger !== 'manual');
    const ownerA = both[0].owner;
    expect(new Set(both.map((r) => r.owner))).toEqual(new Set([ownerA]));
    expect(ownerA).toMatch(new RegExp(`:${a.child.pid}:scheduler:`));
    const cron = both.filter((r) => r.trigger === 'cron');
    for (const job of ['health', 'watchdog']) {
      const slots = cron.filter((r) => r.job === job).map((r) => r.scheduled_for!);
      expect(new Set(slots).size).toBe(slots.length);
    }
    // A run may still be going when the rows are read (one per job at most); every finished one is ok.
    const finished = cron.filter((r) => r.result !== 'running');
    expect(cron.length - finished.length).toBeLessThanOrEqual(2);
    expect(finished.filter((r) => r.result !== 'ok').map((r) => `${r.job}: ${r.result}`)).toEqual([]);

    // The leader dies; the standby (same host, so it sees the holder is gone) takes the lease and the slots.
    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    await waitFor(() => rows(statePath).some((r) => r.trigger === 'cron' && r.owner !== ownerA), {
      what: 'B running the cron jobs',
      timeoutMs: 15_000,
    });
    const firstB = rows(statePath).find((r) => r.owner !== ownerA)!;
    expect(firstB.owner).toMatch(new RegExp(`:${b.child.pid}:scheduler:`));
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    const jobsB2 = (await (await fetch(`http://127.0.0.1:${portB}/api/jobs`)).json()) as { leader: boolean };
    expect(jobsB2.leader).toBe(true);
    // Never two rows for one slot, whoever ran it.
    const all = rows(statePath).filter((r) => r.trigger === 'cron');
    const keys = all.map((r) => `${r.job}@${r.scheduled_for}`);
    expect(new Set(keys).size).toBe(keys.length);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 90_000);

  it('SIGKILL during a job leaves a running row that the next start marks crashed', async () => {
    dir = makeTmpDir('contimg-sched-acc-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    server = await statusServer();
    const port = await freePort();
    const config = writeConfig('contimg.yaml', {
      dataDir: dir,
      databases: { state: statePath, pipeline: pipelinePath },
      log: { level: 'warn' },
      timeouts: { drainMs: 1500 },
      scheduler: {
        port,
        jobs: {
          validity: { enabled: false },
          flux: { enabled: false },
          retention: { enabled: false },
          watchdog: { enabled: false },
        },
        health: { ...quietHealth, http: [{ name: 'hang', url: server.url('/hang'), timeoutMs: 60_000 }] },
      },
    });
    const first = await start(config, port);
    await waitFor(() => rows(statePath).some((r) => r.job === 'health' && r.result === 'running'), {
      what: 'a running health job',
    });
    first.child.kill('SIGKILL');
    await first.exited;
    const [killed] = rows(statePath);
    expect(killed).toMatchObject({ job: 'health', result: 'running' });

    const second = await start(config, port);
    await waitFor(() => rows(statePath)[0].result === 'crashed', { what: 'the killed run marked crashed' });
    expect(rows(statePath)[0].error).toMatch(/is gone/);
    // The job lease of the dead process is reclaimed at once: the catch-up runs health again now.
    await waitFor(
      () => rows(statePath).some((r) => r.id !== killed.id && r.job === 'health' && r.result === 'running'),
      {
        what: 'health running again',
      },
    );
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    // Aborted at the drain deadline, and recorded as such (not left running).
    const last = rows(statePath).at(-1)!;
    expect(last.result).toBe('error');
    expect(last.error).toMatch(/shutting down/);
  }, 60_000);
});
