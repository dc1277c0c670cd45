// The built scheduler idling between jobs with the production defaults (health every 5 min, validity 15,
// flux hourly, the watchdog every minute, gauges refreshed every 60 s): CPU (utime + stime from /proc) and
// RSS over a window after the start-up catch-up; then the same with every job disabled (the platform alone:
// HTTP, WebSocket tail, WAL keeper, lease loop), ratio first. Run: npx tsx bench/scheduler-idle.ts [seconds=300]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { migrateUp } from '../lib/migrations/index.js';
import { freePort } from '../test/helpers/net.js';
import { REPO_ROOT } from '../test/helpers/tmp.js';

const seconds = Number(process.argv[2] ?? 300);
const MAIN = path.join(REPO_ROOT, 'dist/daemons/scheduler/main.js');
if (!fs.existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build` first');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-idle-'));
const state = path.join(dir, 'state.sqlite3');
const pipeline = path.join(dir, 'pipeline.sqlite3');
await migrateUp({ path: state, set: 'state', backup: false });
await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux

interface Idle {
  cpuPct: number;
  rssMax: number;
  rssMean: number;
  runs: string[];
}

async function measure(jobsOn: boolean): Promise<Idle> {
  const port = await freePort();
  const config = path.join(dir, `contimg-${jobsOn ? 'on' : 'off'}.yaml`);
  const off = { enabled: false };
  const jobs = jobsOn ? {} : { health: off, validity: off, flux: off, retention: off, watchdog: off };
  fs.writeFileSync(
    config,
    YAML.stringify({
      dataDir: dir,
      databases: { state, pipeline },
      log: { level: 'warn' },
      scheduler: { port, jobs },
    }),
  );
  const child = spawn(process.execPath, [MAIN, '--config', config], { stdio: 'ignore' });
  const pid = child.pid!;
  const ticks = (): number => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  };
  const rssMb = (): number =>
    Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (i > 300) throw new Error('scheduler did not become ready');
    await sleep(100);
  }
  await sleep(15_000); // the start-up catch-up runs every job once
  const c0 = ticks();
  const t0 = performance.now();
  const rss: number[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    rss.push(rssMb());
    await sleep(1000);
  }
  const cpuS = (ticks() - c0) / CLK_TCK;
  const wallS = (performance.now() - t0) / 1000;
  const runs = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
    .split('\n')
    .filter((l) => l.startsWith('contimg_scheduler_job_runs_total{') && !l.endsWith(' 0'))
    .map((l) => l.replace('contimg_scheduler_job_runs_total', ''));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return {
    cpuPct: (100 * cpuS) / wallS,
    rssMax: Math.max(...rss),
    rssMean: rss.reduce((a, b) => a + b, 0) / rss.length,
    runs,
  };
}

const on = await measure(true);
const off = await measure(false);
console.log(`ratio CPU with jobs / platform alone: ${(on.cpuPct / Math.max(off.cpuPct, 0.001)).toFixed(2)}×`);
console.log(
  `idle scheduler: ${on.cpuPct.toFixed(2)} % of one core over ${seconds} s (goal ≤ 0.5 %); jobs off: ${off.cpuPct.toFixed(2)} %`,
);
console.log(
  `RSS: max ${on.rssMax.toFixed(0)} MB, mean ${on.rssMean.toFixed(0)} MB (goal ≤ 100 MB); jobs off: max ${off.rssMax.toFixed(0)} MB`,
);
console.log(`runs in the window and the catch-up: ${on.runs.join(', ')}`);
console.log(`(${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`);
fs.rmSync(dir, { recursive: true, force: true });
