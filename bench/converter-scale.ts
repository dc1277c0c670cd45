// The converter's steady-state cost against the history kept in incomingDir (issue 17). For each size (16k,
// 400k, 1.6M existing files; empty placeholder files whose rows are seeded as converted, as on a host that
// has run for weeks to a year), the BUILT daemon is started and the bench prints: time to ready; then, over a
// window (five minutes by default) in which one new group of 16 real subband files arrives every 30 s, the
// daemon's CPU (utime+stime from /proc, % of one core), its RSS (median and max of 5 s samples) and the
// dispatch latency of those groups (16th file renamed into place → converter spawned, from the attempt rows).
// With --before DIR (a build of main: `git archive <base> | tar -x -C DIR`, node_modules linked, `npx tsc -p
// tsconfig.build.json`) the same site is run with that build first (schema at 0004), then migrated to head
// and run with this build: before and after in one run, ratios first. --probes also measures what chokidar
// keeps per file against one fs.watch on the directory.
//
// The daemons and probes run as --uid (default 59999, an unused id): inotify watches are counted per user,
// and chokidar's one-watch-per-file must not use up the shared machine's root budget. Creating 1.6M files
// needs ~1.6M free inodes (`df -i`) and ~1 min; the site is removed afterwards unless --keep.
//
// Build first (npm run build). Run: npx tsx bench/converter-scale.ts [--sizes 16000,400000,1600000]
//   [--window-s 300] [--every-s 30] [--before DIR] [--probes] [--uid N] [--keep]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrateUp } from '../lib/migrations/index.js';
import { subbandFileName, writeSubbandFile } from '../lib/uvh5/writer.js';
import { seedConverted } from '../test/integration/converter/seed.js';
import { fakeArgv } from '../test/fixtures/converters/argv.js';
import { freePort } from '../test/integration/converter/proc.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SIZES = opt('sizes', '16000,400000,1600000').split(',').map(Number);
const WINDOW_S = Number(opt('window-s', '300'));
const EVERY_S = Number(opt('every-s', '30'));
const BEFORE = args.includes('--before') ? path.resolve(opt('before', '')) : null;
const UID = Number(opt('uid', '59999'));
const KEEP = args.includes('--keep');
const PROBES = args.includes('--probes');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString());
const RSS_LIMIT_MB = 6000;
const READY_LIMIT_MS = 15 * 60_000;
const PROBE_LIMIT_MS = 300_000;
const SPACING_MS = 309_000;
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

interface Site {
  n: number;
  dir: string;
  incoming: string;
  staging: string;
  state: string;
  pipeline: string;
}

interface RunResult {
  build: string;
  n: number;
  readyS: number | null;
  /** Ready, plus (this build) the start-up reconcile's verify side: when the window began. */
  settledS: number | null;
  cpuPct: number | null;
  rssMedianMb: number | null;
  rssMaxMb: number | null;
  hwmMb: number | null;
  latencyS: number[];
  groups: number;
  note: string;
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x: number | null, digits = 1): string => (x === null ? '—' : x.toFixed(digits));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function procTicks(pid: number): number | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
  } catch {
    return null;
  }
}

function procMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** A fresh site: n placeholder files with converted rows, schema at `to` (head when undefined). */
async function seedSite(n: number, to: number | undefined): Promise<Site> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-scale-'));
  const site = {
    n,
    dir,
    incoming: path.join(dir, 'incoming'),
    staging: path.join(dir, 'staging'),
    state: path.join(dir, 'db', 'state.sqlite3'),
    pipeline: path.join(dir, 'db', 'pipeline.sqlite3'),
  };
  for (const d of [
    site.incoming,
    site.staging,
    path.join(dir, 'db'),
    path.join(dir, 'ms'),
    path.join(dir, 'scratch'),
  ])
    fs.mkdirSync(d, { recursive: true });
  await migrateUp({ path: site.state, set: 'state', backup: false, to });
  await migrateUp({ path: site.pipeline, set: 'pipeline', backup: false });
  const nGroups = Math.ceil(n / 16);
  const t = performance.now();
  seedConverted(site.incoming, site.state, nGroups, T0 - nGroups * SPACING_MS);
  console.log(
    `  seeded ${nGroups * 16} files (${nGroups} converted groups) in ${((performance.now() - t) / 1000).toFixed(0)} s`,
  );
  openUp(site);
  return site;
}

/** The daemon runs as UID: it must read the inputs and write the databases, outputs and scratch. */
function openUp(site: Site): void {
  for (const d of [
    site.dir,
    path.join(site.dir, 'db'),
    path.join(site.dir, 'ms'),
    path.join(site.dir, 'scratch'),
  ])
    fs.chmodSync(d, 0o777);
  for (const f of fs.readdirSync(path.join(site.dir, 'db')))
    fs.chmodSync(path.join(site.dir, 'db', f), 0o666);
}

function configFile(site: Site, port: number): string {
  const p = path.join(site.dir, `contimg-${port}.yaml`);
  fs.writeFileSync(
    p,
    JSON.stringify({
      dataDir: site.dir,
      databases: { state: site.state, pipeline: site.pipeline },
      log: { level: 'warn' },
      streamingConverter: {
        port,
        incomingDir: site.incoming,
        settleS: 1,
        minFreeGb: 0,
        maxConcurrent: 3,
        converter: { argv: fakeArgv('ok') },
      },
    }),
  );
  return p;
}

async function metric(port: number, line: string): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const at = text.split('\n').find((l) => l.startsWith(`${line} `));
    return at === undefined ? null : Number(at.slice(line.length + 1));
  } catch {
    return null;
  }
}

/** One group of 16 real files, written in staging and renamed into incomingDir; returns the 16th's rename time. */
function deliverGroup(site: Site, obsMs: number): number {
  for (let sb = 0; sb < 16; sb++) {
    const name = subbandFileName(obsMs + (sb % 3) * 1000, sb);
    writeSubbandFile(path.join(site.staging, name), { subband: sb, startMs: obsMs, decRad: 0.97 });
  }
  let last = 0;
  for (let sb = 0; sb < 16; sb++) {
    const name = subbandFileName(obsMs + (sb % 3) * 1000, sb);
    fs.renameSync(path.join(site.staging, name), path.join(site.incoming, name));
    last = Date.now();
  }
  return last;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(t);
}

async function runBuild(site: Site, build: string, main: string, firstGroup: number): Promise<RunResult> {
  const res: RunResult = {
    build,
    n: site.n,
    readyS: null,
    settledS: null,
    cpuPct: null,
    rssMedianMb: null,
    rssMaxMb: null,
    hwmMb: null,
    latencyS: [],
    groups: 0,
    note: '',
  };
  const port = await freePort();
  const started = performance.now();
  let stderr = '';
  const child = spawn(process.execPath, [main, '--config', configFile(site, port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    uid: UID,
    gid: UID,
  });
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const pid = child.pid!;
  let peak = 0;
  const tooBig = (): boolean => {
    const rss = procMb(pid, 'VmRSS') ?? 0;
    peak = Math.max(peak, rss);
    return rss > RSS_LIMIT_MB;
  };
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr}`);
      if (performance.now() - started > READY_LIMIT_MS) {
        res.note = `not ready after ${READY_LIMIT_MS / 60_000} min`;
        return res;
      }
      if (tooBig()) {
        res.note = `RSS above ${RSS_LIMIT_MB} MB before ready; stopped`;
        return res;
      }
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await sleep(50);
    }
    res.readyS = (performance.now() - started) / 1000;
    // This build finishes its start-up reconcile (the verify side) after ready: the window starts after it.
    while ((await metric(port, 'contimg_converter_scan_duration_seconds_count{kind="reconcile"}')) === 0)
      await sleep(200);
    res.settledS = (performance.now() - started) / 1000;
    await sleep(10_000);
    const rss: number[] = [];
    const delivered: { groupId: string; at: number }[] = [];
    const t0 = performance.now();
    const ticks0 = procTicks(pid)!;
    let nextGroupAt = 0;
    let nextSampleAt = 0;
    let g = firstGroup;
    while (performance.now() - t0 < WINDOW_S * 1000) {
      const el = performance.now() - t0;
      if (el >= nextGroupAt) {
        const obs = T0 + g++ * SPACING_MS;
        delivered.push({ groupId: new Date(obs).toISOString().slice(0, 19), at: deliverGroup(site, obs) });
        nextGroupAt += EVERY_S * 1000;
      }
      if (el >= nextSampleAt) {
        if (tooBig()) {
          res.note = `RSS above ${RSS_LIMIT_MB} MB; stopped`;
          break;
        }
        rss.push(procMb(pid, 'VmRSS')!);
        nextSampleAt += 5000;
      }
      await sleep(100);
    }
    const ticks1 = procTicks(pid)!;
    res.cpuPct = ((ticks1 - ticks0) / CLK_TCK / ((performance.now() - t0) / 1000)) * 100;
    res.rssMedianMb = median(rss);
    res.rssMaxMb = Math.max(...rss);
    res.groups = delivered.length;
    const db = new Database(site.state, { readonly: true });
    const spawnedAt = db.prepare(
      `SELECT a.spawned_at AS t FROM converter_attempts a JOIN converter_groups g ON g.id = a.group_ref
       WHERE g.group_id = ? AND a.attempt = 1 AND a.spawned_at IS NOT NULL`,
    );
    const deadline = Date.now() + 120_000;
    for (const d of delivered) {
      let row: { t: number } | undefined;
      while (!(row = spawnedAt.get(d.groupId) as { t: number } | undefined) && Date.now() < deadline)
        await sleep(100);
      if (row) res.latencyS.push((row.t - d.at) / 1000);
    }
    db.close();
    if (res.latencyS.length < delivered.length)
      res.note += `${delivered.length - res.latencyS.length} of ${delivered.length} groups not dispatched within 2 min`;
    res.hwmMb = procMb(pid, 'VmHWM');
    return res;
  } finally {
    res.hwmMb ??= procMb(pid, 'VmHWM') ?? peak;
    await stop(child);
  }
}

/** What a watcher holds for a directory of n files: chokidar (as main used it) against one fs.watch. */
const PROBE = `
import fs from 'node:fs';
import path from 'node:path';
const [kind, dir] = process.argv.slice(1);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const watches = () => {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync('/proc/self/fd/' + fd) !== 'anon_inode:inotify') continue;
      n += fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8').split('\\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {}
  }
  return n;
};
let errors = 0;
let seen = null;
const t0 = performance.now();
let close;
if (kind === 'chokidar') {
  const { watch } = await import('chokidar');
  const w = watch(dir, { depth: 0, ignoreInitial: true, awaitWriteFinish: false });
  w.on('add', (p) => seen?.(p)).on('error', () => errors++);
  await new Promise((r) => w.once('ready', r));
  close = () => w.close();
} else {
  const w = fs.watch(dir, { persistent: true }, (t, name) => seen?.(path.join(dir, String(name))));
  close = () => w.close();
}
const readyMs = performance.now() - t0;
global.gc?.();
const mem = process.memoryUsage();
const perChange = [];
for (let i = 0; i < 3; i++) {
  const p = path.join(dir, 'probe-' + i + '.dat');
  const c0 = cpu(), w0 = performance.now();
  const got = new Promise((r) => (seen = (q) => q === p && r()));
  fs.writeFileSync(p, 'x');
  await got;
  await new Promise((r) => setTimeout(r, 1500)); // chokidar re-reads the directory after a change
  perChange.push({ cpuMs: cpu() - c0, eventMs: 0, wallMs: performance.now() - w0 });
  fs.rmSync(p);
}
console.log(JSON.stringify({ kind, readyMs, rssMb: process.memoryUsage().rss / 1048576, heapMb: mem.heapUsed / 1048576, watches: watches(), errors, cpuMsPerArrival: perChange.map((x) => x.cpuMs) }));
await close();
process.exit(0);
`;

async function probe(kind: string, site: Site): Promise<string> {
  fs.chmodSync(site.incoming, 0o777);
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--input-type=module', '-e', PROBE, kind, site.incoming],
    {
      cwd: path.resolve('.'),
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: UID,
      gid: UID,
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
  let peak = 0;
  const started = Date.now();
  while (child.exitCode === null && Date.now() - started < PROBE_LIMIT_MS) {
    peak = Math.max(peak, procMb(child.pid!, 'VmRSS') ?? 0);
    if (peak > RSS_LIMIT_MB) break;
    await sleep(200);
  }
  const why =
    child.exitCode !== null
      ? `exited ${child.exitCode}: ${err.trim().split('\n').pop() ?? ''}`
      : peak > RSS_LIMIT_MB
        ? `RSS above ${RSS_LIMIT_MB} MB`
        : `not ready within ${PROBE_LIMIT_MS / 1000} s`;
  await stop(child);
  fs.chmodSync(site.incoming, 0o755);
  const line = out.trim().split('\n').pop();
  if (!line) return `${kind.padEnd(8)} no result: ${why} (peak RSS ${peak.toFixed(0)} MB)`;
  const r = JSON.parse(line) as {
    readyMs: number;
    rssMb: number;
    heapMb: number;
    watches: number;
    errors: number;
    cpuMsPerArrival: number[];
  };
  return `${kind.padEnd(8)} ready ${(r.readyMs / 1000).toFixed(1)} s, RSS ${r.rssMb.toFixed(0)} MB (heap ${r.heapMb.toFixed(0)} MB), inotify watches ${r.watches}, errors ${r.errors}, CPU per arrival ${r.cpuMsPerArrival.map((x) => x.toFixed(0)).join('/')} ms`;
}

function line(r: RunResult): string {
  const lat = median(r.latencyS);
  return [
    `${r.build.padEnd(6)} ${String(r.n).padStart(8)}`,
    `ready ${fmt(r.readyS, 2).padStart(6)} s`,
    `settled ${fmt(r.settledS, 1).padStart(5)} s`,
    `CPU ${fmt(r.cpuPct, 2).padStart(6)} %`,
    `RSS med ${fmt(r.rssMedianMb, 0).padStart(5)} / max ${fmt(r.rssMaxMb, 0).padStart(5)} MB`,
    `peak ${fmt(r.hwmMb, 0).padStart(5)} MB`,
    `dispatch p50 ${fmt(lat, 2)} s max ${fmt(r.latencyS.length ? Math.max(...r.latencyS) : null, 2)} s (${r.latencyS.length}/${r.groups})`,
    r.note,
  ].join('  ');
}

const all: RunResult[] = [];
console.log(
  `converter-scale: window ${WINDOW_S} s, one group every ${EVERY_S} s, settleS 1, daemons as uid ${UID}${BEFORE ? `, before = ${BEFORE}` : ''}`,
);
let groupNo = 1;
for (const n of SIZES) {
  console.log(`\n== ${n} existing files ==`);
  const site = await seedSite(n, BEFORE ? 4 : undefined);
  try {
    if (PROBES) for (const kind of ['chokidar', 'fs.watch']) console.log(`  ${await probe(kind, site)}`);
    if (BEFORE) {
      const r = await runBuild(
        site,
        'before',
        path.join(BEFORE, 'dist/daemons/streaming-converter/main.js'),
        groupNo,
      );
      groupNo += r.groups + 1;
      all.push(r);
      console.log(`  ${line(r)}`);
      await migrateUp({ path: site.state, set: 'state', backup: false });
      openUp(site);
    }
    const r = await runBuild(
      site,
      'after',
      path.resolve('dist/daemons/streaming-converter/main.js'),
      groupNo,
    );
    groupNo += r.groups + 1;
    all.push(r);
    console.log(`  ${line(r)}`);
  } finally {
    if (KEEP) console.log(`  kept ${site.dir}`);
    else fs.rmSync(site.dir, { recursive: true, force: true });
  }
}

console.log('\n== summary ==');
for (const r of all) console.log(`  ${line(r)}`);
const after = all.filter((r) => r.build === 'after');
const small = after.find((r) => r.n === Math.min(...SIZES));
const big = after.find((r) => r.n === Math.max(...SIZES));
if (BEFORE)
  for (const n of SIZES) {
    const b = all.find((r) => r.build === 'before' && r.n === n);
    const a = after.find((r) => r.n === n);
    if (!b?.cpuPct || !a?.cpuPct) continue;
    console.log(
      `  ${n}: after/before CPU ${(a.cpuPct / b.cpuPct).toFixed(3)}, RSS ${(a.rssMedianMb! / b.rssMedianMb!).toFixed(2)}, dispatch p50 ${(median(a.latencyS)! / median(b.latencyS)!).toFixed(2)}`,
    );
  }
if (small && big && big !== small) {
  const ratio = median(big.latencyS)! / median(small.latencyS)!;
  console.log(
    `  goals at ${big.n}: CPU ${fmt(big.cpuPct, 2)} % (≤ 2), RSS median ${fmt(big.rssMedianMb, 0)} MB / max ${fmt(big.rssMaxMb, 0)} MB (≤ 250), dispatch p50 ${big.n}/${small.n} = ${ratio.toFixed(2)} (unchanged ≈ 1)`,
  );
}
