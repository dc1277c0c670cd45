// One health run over 60 targets: 20 HTTP peers that answer after 200 ms, 20 systemd units (a PATH shim
// answering like `systemctl show`), 10 SQLite files and 10 disks. Wall time of the whole run (probes, the
// finishing transaction, alerts, gauges) at the default concurrency and at 1 and 16 for comparison, and the
// share of the run spent outside the probes. Median of `runs` runs each (ratios first: the machine is shared).
// Run: npx tsx bench/scheduler-health.ts [runs]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../lib/config/index.js';
import { migrateUp } from '../lib/migrations/index.js';
import { JobRunner } from '../daemons/scheduler/runner.js';
import { withSchedulerContext } from '../daemons/scheduler/standalone.js';
import { healthJob } from '../daemons/scheduler/health/job.js';
import { statusServer, writeShims } from '../test/integration/scheduler/shims.js';

const runs = Number(process.argv[2] ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-health-'));
const state = path.join(dir, 'state.sqlite3');
const pipeline = path.join(dir, 'pipeline.sqlite3');
await migrateUp({ path: state, set: 'state', backup: false });
await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
const shims = writeShims(dir);
process.env.PATH = shims.env.PATH;
const server = await statusServer(200);
const sqlite = Array.from({ length: 10 }, (_, i) => {
  const p = path.join(dir, `db${i}.sqlite3`);
  fs.copyFileSync(pipeline, p);
  return { name: `db${i}`, path: p };
});
const disks = Array.from({ length: 10 }, (_, i) => {
  const p = path.join(dir, `disk${i}`);
  fs.mkdirSync(p);
  return { path: p };
});

function config(concurrency: number) {
  return parseConfig(
    {
      dataDir: dir,
      databases: { state, pipeline },
      scheduler: {
        health: {
          concurrency,
          http: Array.from({ length: 20 }, (_, i) => ({ name: `peer${i}`, url: server.url(`/slow?${i}`) })),
          systemd: { units: Array.from({ length: 20 }, (_, i) => `unit-${i}.service`) },
          sqlite,
          disks,
          gpu: { enabled: false },
        },
      },
    },
    dir,
  );
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(concurrency: number): Promise<{ wall: number; probes: number; writes: number }> {
  const cfg = config(concurrency);
  return withSchedulerContext(
    cfg,
    async (ctx) => {
      const walls: number[] = [];
      const probeWalls: number[] = [];
      const writeWalls: number[] = [];
      const runner = new JobRunner(ctx);
      for (let i = 0; i < runs; i++) {
        // The whole run as the daemon does it (lease, rows, probes, transaction, alerts, gauges).
        const t0 = performance.now();
        const out = await runner.run({ job: 'health', trigger: 'manual', scheduledFor: null });
        walls.push(performance.now() - t0);
        if (out.result !== 'ok') throw new Error(`health run ${out.result}: ${out.error}`);
        const s = out.summary as { counts: { ok: number } };
        if (s.counts.ok !== 60) throw new Error(`expected 60 ok targets: ${JSON.stringify(out.summary)}`);
        // The same run in its two phases: the probes, then what the runner does with their results.
        const p0 = performance.now();
        const outcome = await healthJob(ctx, new AbortController().signal);
        const p1 = performance.now();
        await ctx.state.writeAsync((c) => outcome.apply?.(c, Date.now()));
        outcome.afterCommit?.();
        probeWalls.push(p1 - p0);
        writeWalls.push(performance.now() - p1);
      }
      return { wall: median(walls), probes: median(probeWalls), writes: median(writeWalls) };
    },
    { quiet: true },
  );
}

const c1 = await measure(1);
const c8 = await measure(8);
const c16 = await measure(16);
const outside = (m: { probes: number; writes: number }) => m.writes / (m.probes + m.writes);
console.log(`ratio wall(concurrency 1) / wall(concurrency 8): ${(c1.wall / c8.wall).toFixed(2)}×`);
console.log(`ratio wall(concurrency 8) / wall(concurrency 16): ${(c8.wall / c16.wall).toFixed(2)}×`);
console.log(
  `health run over 60 targets, concurrency 8 (default): ${c8.wall.toFixed(0)} ms (goal ≤ 1500 ms; lower bound 20 × 200 ms / 8 = 500 ms)`,
);
console.log(
  `  probes ${c8.probes.toFixed(0)} ms, then transaction + alerts + gauges ${c8.writes.toFixed(1)} ms: ` +
    `${(100 * outside(c8)).toFixed(1)} % of the run outside the probes`,
);
console.log(`concurrency 1: ${c1.wall.toFixed(0)} ms; concurrency 16: ${c16.wall.toFixed(0)} ms`);
console.log(`(median of ${runs} runs each; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`);
await server.close();
fs.rmSync(dir, { recursive: true, force: true });
