// The flux and validity jobs over a year of pipeline rows: 100 calibrators × 24 measurements a day
// (876,000 calibration_monitoring rows) and 10,000 caltables (2,000 five-table sets, one every ~4.4 h, tables
// on disk). The jobs run in a fresh plain-node process on the build (dist/, as in production; `npm run build`
// first), so its time per run (median) and peak RSS are theirs alone. Then the flux window read with and
// without the contract's (mjd DESC) index, to show what the index buys (ratio first), and the query plans.
// Run: npx tsx bench/scheduler-flux.ts [runs]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrateUp } from '../lib/migrations/index.js';
import { readFluxRows } from '../daemons/scheduler/flux/job.js';
import { REPO_ROOT } from '../test/helpers/tmp.js';

const runs = Number(process.argv[2] ?? 7);
const DIST = path.join(REPO_ROOT, 'dist', 'daemons', 'scheduler');
if (!fs.existsSync(path.join(DIST, 'runner.js')))
  throw new Error('dist/ is missing: run `npm run build` first');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-flux-'));
const state = path.join(dir, 'state.sqlite3');
const pipeline = path.join(dir, 'pipeline.sqlite3');
const DAY = 86_400_000;
const now = Date.now();
const mjd = (ms: number) => ms / DAY + 40587;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function writeFixture(): Promise<void> {
  await migrateUp({ path: state, set: 'state', backup: false });
  await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
  const w = new Database(pipeline);
  w.transaction(() => {
    const ins = w.prepare(
      `INSERT INTO calibration_monitoring (calibrator_name, ms_path, observed_flux_jy, catalog_flux_jy, flux_ratio,
         frequency_ghz, mjd, phase_rms_deg, created_at) VALUES (?, ?, ?, ?, ?, 1.405, ?, ?, ?)`,
    );
    for (let h = 0; h < 365 * 24; h++) {
      const t = now - (365 * 24 - h) * 3_600_000;
      for (let c = 0; c < 100; c++) {
        const ratio = 1 + 0.02 * Math.sin(h * 0.37 + c);
        ins.run(
          `CAL${String(c).padStart(3, '0')}`,
          `/ms/${c}/${h}.ms`,
          10 * ratio,
          10,
          ratio,
          mjd(t),
          4,
          t / 1000,
        );
      }
    }
    const cal = w.prepare(
      `INSERT INTO caltables (set_name, path, table_type, order_index, cal_field, refant, created_at,
         valid_start_mjd, valid_end_mjd) VALUES (?, ?, ?, ?, 'CAL', '103', ?, ?, ?)`,
    );
    const types = ['K', 'BA', 'BP', 'GA', 'GP'];
    for (let s = 0; s < 2000; s++) {
      const t = now - ((2000 - s) * 365 * DAY) / 2000;
      const set = `set_${s}`;
      types.forEach((ty, i) => {
        const p = path.join(dir, 'caltables', set, `${set}_${ty.toLowerCase()}`);
        fs.mkdirSync(p, { recursive: true });
        cal.run(set, p, ty, 10 * (i + 1), t / 1000, mjd(t - 3_600_000), mjd(t + 3_600_000));
      });
    }
  })();
  w.close();
}

/** The measuring child: plain node, the built modules, prints one JSON line. */
const CHILD = `
const [dir, runs] = process.argv.slice(1);
const dist = ${JSON.stringify(DIST)};
const { parseConfig } = await import(dist + '/../../lib/config/index.js');
const { JobRunner } = await import(dist + '/runner.js');
const { withSchedulerContext } = await import(dist + '/standalone.js');
const config = parseConfig({ dataDir: dir, databases: { state: dir + '/state.sqlite3', pipeline: dir + '/pipeline.sqlite3' } }, dir);
const baseMb = process.resourceUsage().maxRSS / 1024;
const times = { flux: [], validity: [] };
await withSchedulerContext(config, async (ctx) => {
  const runner = new JobRunner(ctx);
  for (let i = 0; i < Number(runs); i++)
    for (const job of ['flux', 'validity']) {
      const t = performance.now();
      const out = await runner.run({ job, trigger: 'manual', scheduledFor: null });
      if (out.result !== 'ok') throw new Error(job + ': ' + out.result + ' ' + out.error);
      times[job].push(performance.now() - t);
    }
}, { quiet: true });
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({ flux: med(times.flux), validity: med(times.validity), baseMb, peakMb: process.resourceUsage().maxRSS / 1024 }));
`;

const f0 = performance.now();
await writeFixture();
const fixtureS = (performance.now() - f0) / 1000;
const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, dir, String(runs)], {
  encoding: 'utf8',
});
const child = JSON.parse(out.trim().split('\n').at(-1)!) as {
  flux: number;
  validity: number;
  baseMb: number;
  peakMb: number;
};

/** The flux window read (the job's one query) on a file, median of runs. */
function readWindow(file: string): { ms: number; rows: number; plan: string } {
  const db = new Database(file, { readonly: true });
  try {
    const plan = (
      db.prepare('EXPLAIN QUERY PLAN SELECT * FROM calibration_monitoring WHERE mjd >= ?').all(0) as {
        detail: string;
      }[]
    )
      .map((r) => r.detail)
      .join('; ');
    let rows = 0;
    const ms = median(
      Array.from({ length: runs }, () => {
        const t = performance.now();
        rows = readFluxRows(db, mjd(now) - 7).length;
        return performance.now() - t;
      }),
    );
    return { ms, rows, plan };
  } finally {
    db.close();
  }
}
const copy = path.join(dir, 'noindex.sqlite3');
fs.copyFileSync(pipeline, copy);
const strip = new Database(copy);
strip.exec('DROP INDEX idx_calmon_mjd; DROP INDEX idx_calmon_calibrator_mjd');
strip.close();
const withIndex = readWindow(pipeline);
const without = readWindow(copy);

console.log(
  `ratio flux window read without / with the (mjd DESC) index: ${(without.ms / withIndex.ms).toFixed(1)}×`,
);
console.log(
  `flux job (7-day window: ${withIndex.rows} of 876,000 rows, 100 calibrators): ${child.flux.toFixed(0)} ms per run (goal ≤ 500 ms)`,
);
console.log(
  `validity job (10,000 caltables in 2,000 sets; tables in use checked on disk): ${child.validity.toFixed(0)} ms per run (goal ≤ 500 ms)`,
);
console.log(
  `peak RSS of the process running the jobs: ${child.peakMb.toFixed(0)} MB (goal ≤ 150 MB; ${child.baseMb.toFixed(0)} MB before the first run)`,
);
console.log(
  `flux window read: ${withIndex.ms.toFixed(1)} ms with the index ("${withIndex.plan}"), ${without.ms.toFixed(1)} ms without ("${without.plan}")`,
);
console.log(
  `(fixture written in ${fixtureS.toFixed(1)} s; median of ${runs} runs; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`,
);
fs.rmSync(dir, { recursive: true, force: true });
