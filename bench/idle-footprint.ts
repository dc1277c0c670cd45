// Idle footprint of every daemon in `npm start`'s configuration: `contimg dev --no-simulate --no-demo-alert`
// (the config dev writes, every built daemon as its own process, the scheduler's dev jobs) of this tree
// ("after") and of a baseline git ref ("before", built in a temp folder), both running at once so they idle
// under the same load. Once every daemon answers /readyz and a settle period has passed, each daemon's CPU
// (utime + stime from /proc/<pid>/stat) and RSS (/proc/<pid>/status, sampled every 5 s) are measured over the
// window. Ratios first, then the figures against the goals (≤ 100 MB RSS, ≤ 0.5 % of one core).
//   npm run build && npx tsx bench/idle-footprint.ts [--minutes 5] [--settle-s 45] [--baseline main]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildBaseline, REPO } from './baseline.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const minutes = Number(opt('--minutes', '5'));
const settleS = Number(opt('--settle-s', '45'));
const baselineRef = opt('--baseline', 'main');
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux
const RSS_GOAL_MB = 100;
const CPU_GOAL_PCT = 0.5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Daemon {
  name: string;
  pid: number;
  port: number;
}

interface Host {
  label: 'before' | 'after';
  dev: ChildProcess;
  daemons: Map<string, Daemon>;
  output: string[];
}

interface Figures {
  cpuPct: number;
  rssMaxMb: number;
  rssMeanMb: number;
}

/** A base port with `n` consecutive free loopback ports (the five daemons and dev's mail capture). */
async function freeRun(n: number): Promise<number> {
  const free = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await free(p);
    if (ok) return base;
  }
  throw new Error('no run of free ports found');
}

/** `contimg dev` of `tree` in a fresh data folder; resolves once every daemon it started answers /readyz. */
async function startHost(label: Host['label'], tree: string, dataDir: string): Promise<Host> {
  const base = await freeRun(6);
  const dev = spawn(
    process.execPath,
    [
      path.join(tree, 'dist/cli/contimg.js'),
      'dev',
      '--no-simulate',
      '--no-demo-alert',
      '--data-dir',
      dataDir,
      '--port-base',
      String(base),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const host: Host = { label, dev, daemons: new Map(), output: [] };
  const started = /^dev: started (\S+) \(pid (\d+)\): http:\/\/[^:]+:(\d+)\//;
  let buf = '';
  const onData = (c: Buffer): void => {
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) {
      host.output.push(line);
      const m = started.exec(line);
      if (m) host.daemons.set(m[1], { name: m[1], pid: Number(m[2]), port: Number(m[3]) });
    }
  };
  dev.stdout!.on('data', onData);
  dev.stderr!.on('data', onData);
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (dev.exitCode !== null) throw new Error(`${label}: contimg dev exited:\n${host.output.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`${label}: daemons not ready:\n${host.output.join('\n')}`);
    if (host.daemons.size === 5 && (await allReady(host))) return host;
    await sleep(500);
  }
}

async function allReady(host: Host): Promise<boolean> {
  const ok = await Promise.all(
    [...host.daemons.values()].map(async (d) => {
      try {
        const r = await fetch(`http://127.0.0.1:${d.port}/readyz`, { signal: AbortSignal.timeout(2000) });
        return r.ok;
      } catch {
        return false;
      }
    }),
  );
  return ok.every(Boolean);
}

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** CPU and RSS of every daemon of every host over the same window. */
async function measure(hosts: Host[], seconds: number): Promise<Map<string, Figures>> {
  const all = hosts.flatMap((h) => [...h.daemons.values()].map((d) => ({ key: `${h.label}/${d.name}`, d })));
  const t0 = performance.now();
  const ticks0 = new Map(all.map(({ key, d }) => [key, cpuTicks(d.pid)]));
  const rss = new Map<string, number[]>(all.map(({ key }) => [key, []]));
  while (performance.now() - t0 < seconds * 1000) {
    for (const { key, d } of all) rss.get(key)!.push(rssMb(d.pid));
    await sleep(Math.min(5000, seconds * 1000 - (performance.now() - t0)));
  }
  const wallS = (performance.now() - t0) / 1000;
  const out = new Map<string, Figures>();
  for (const { key, d } of all) {
    const samples = [...rss.get(key)!, rssMb(d.pid)];
    out.set(key, {
      cpuPct: (100 * (cpuTicks(d.pid) - ticks0.get(key)!)) / CLK_TCK / wallS,
      rssMaxMb: Math.max(...samples),
      rssMeanMb: samples.reduce((a, b) => a + b, 0) / samples.length,
    });
  }
  return out;
}

async function stopHost(host: Host): Promise<void> {
  if (host.dev.exitCode !== null) return;
  const exited = new Promise((r) => host.dev.once('exit', r));
  host.dev.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000)]);
  if (host.dev.exitCode === null) {
    for (const d of host.daemons.values()) {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    host.dev.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(REPO, 'dist/cli/contimg.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const dir = path.join(os.tmpdir(), 'contimg-bench-idle-footprint');
  fs.mkdirSync(dir, { recursive: true });
  const before = buildBaseline(baselineRef, dir);
  const runDir = fs.mkdtempSync(path.join(dir, 'run-'));
  const hosts: Host[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(hosts.map(stopHost));
    fs.rmSync(runDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    hosts.push(await startHost('before', before, path.join(runDir, 'before')));
    hosts.push(await startHost('after', REPO, path.join(runDir, 'after')));
    await sleep(settleS * 1000);
    const seconds = minutes * 60;
    const figures = await measure(hosts, seconds);
    const names = [...hosts[1].daemons.keys()];
    const f = (label: string, name: string): Figures => figures.get(`${label}/${name}`)!;
    console.log(
      `idle footprint over ${minutes} min after ${settleS} s settling; node ${process.versions.node}, ` +
        `${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; before = ${baselineRef} (${path.basename(before)}), after = this tree`,
    );
    console.log('\nratios after/before (CPU, RSS max):');
    for (const n of names) {
      const [b, a] = [f('before', n), f('after', n)];
      console.log(
        `  ${n.padEnd(20)} CPU ×${(a.cpuPct / Math.max(b.cpuPct, 1e-3)).toFixed(2)}   RSS ×${(a.rssMaxMb / b.rssMaxMb).toFixed(2)}`,
      );
    }
    console.log(`\nfigures (goal ≤ ${CPU_GOAL_PCT} % of one core, ≤ ${RSS_GOAL_MB} MB RSS):`);
    for (const n of names) {
      const [b, a] = [f('before', n), f('after', n)];
      const ok = a.cpuPct <= CPU_GOAL_PCT && a.rssMaxMb <= RSS_GOAL_MB ? 'ok' : 'OVER';
      console.log(
        `  ${n.padEnd(20)} before ${b.cpuPct.toFixed(2)} % ${b.rssMaxMb.toFixed(0)} MB (mean ${b.rssMeanMb.toFixed(0)})` +
          `   after ${a.cpuPct.toFixed(2)} % ${a.rssMaxMb.toFixed(0)} MB (mean ${a.rssMeanMb.toFixed(0)})   ${ok}`,
      );
    }
  } finally {
    await cleanup();
  }
}

await main();
