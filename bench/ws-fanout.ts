// WebSocket fan-out: how long one event takes from commit to the last of 1,000 connected clients, and what
// the events tail costs while nothing happens, before (a git ref, default main, built in a temp folder) and
// after (this build), in one run, interleaved round by round so the shared machine's noise falls on both
// alike. Ratios first, then the figures (goal: p99 commit → all clients ≤ 50 ms; idle CPU unchanged).
//
// Per tree and round, a server process runs the real startDaemon (events tail + WebSocket hub) from that
// tree's dist/; the clients run in another process and a writer in a third, so each side has its own event
// loop. Two kinds of commit: "same process" (the daemon itself appends, as a daemon announcing its own state
// change does) and "other process" (another daemon's commit, seen through the database file). Idle CPU is
// the server process's user + system time over a quiet window with no clients and no commits (the daemon at
// rest: the tail's looks and every timer; heartbeats to clients would be the same in both trees). Times are
// wall-clock in microsecond resolution (performance.timeOrigin + now), comparable across processes on one host.
//
// Where the time goes, per event: the server's hub is timed around its fan-out (a wrapper on the instance,
// nothing in the library), so commit → all clients splits into detection (commit → the hub has the event),
// the send loop (the hub hands the frame to all sockets; with the server's GC pauses that fell in it) and the
// clients' drain (send loop done → the last client has read and parsed it: one process reading 1,000
// sockets, which a real deployment spreads over 1,000 browsers). The client side's CPU per event is printed
// too: whether it, not the daemon, is the tail.
//   npm run build && npx tsx bench/ws-fanout.ts [--clients 1000] [--events 50] [--rounds 2] [--idle-s 10]
//     [--client-procs 1] [--baseline main]
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type * as ConfigLib from '../lib/config/index.js';
import type * as DaemonLib from '../lib/daemon/index.js';
import type * as DbLib from '../lib/db/index.js';
import type * as EventsLib from '../lib/events/index.js';
import type * as LogLib from '../lib/log.js';
import type * as MigrationsLib from '../lib/migrations/index.js';
import { buildBaseline, REPO } from './baseline.js';

const SELF = fileURLToPath(import.meta.url);
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
type Mode = 'same' | 'other';
const MODES: Mode[] = ['same', 'other'];

interface ServerResult {
  idleCpuPct: number;
  toLast: Record<Mode, number[]>;
  toFirst: Record<Mode, number[]>;
  /** commit → the hub's fan-out starts (the events tail has read the event). */
  detect: Record<Mode, number[]>;
  /** The hub's send loop: the frame handed to every socket. */
  sendLoop: Record<Mode, number[]>;
  /** The server process's CPU time during the send loop (less than its wall time: it was not running). */
  sendLoopCpu: Record<Mode, number[]>;
  /** Garbage collection in the server process that began during the send loop (ms of pause). */
  sendLoopGc: Record<Mode, number[]>;
  /** send loop done → the last client has the event. */
  drain: Record<Mode, number[]>;
  /** Per event, the client processes' CPU time (ms) from before the commit to the last arrival. */
  clientCpu: Record<Mode, number[]>;
}

function forkChild(argv: string[]): ChildProcess {
  return fork(SELF, argv, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function nextMessage<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${what}: child exited ${code}`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as T);
    });
  });
}

/** The clients: n sockets subscribed to `bench`; reports each event's first and last arrival. */
function clientMain(url: string, n: number): void {
  const seen = new Map<number, { first: number; last: number; count: number }>();
  let cpuMark = process.cpuUsage();
  // The server asks for a CPU mark just before each commit; the event's report carries the CPU since.
  process.on('message', (m: { mark?: boolean }) => {
    if (m.mark) cpuMark = process.cpuUsage();
  });
  let open = 0;
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topic: 'bench' })));
    ws.on('message', (data) => {
      const t = now();
      const m = JSON.parse(String(data)) as { type: string; seq?: number };
      if (m.type === 'subscribed' && ++open === n) process.send!({ ready: true });
      if (m.type !== 'event') return;
      const s = seen.get(m.seq!) ?? { first: t, last: t, count: 0 };
      s.last = t;
      s.count++;
      seen.set(m.seq!, s);
      if (s.count === n) {
        const cpu = process.cpuUsage(cpuMark);
        process.send!({ seq: m.seq, first: s.first, last: s.last, cpuMs: (cpu.user + cpu.system) / 1000 });
        seen.delete(m.seq!);
      }
    });
    ws.on('error', (e) => {
      process.stderr.write(`client error: ${e.message}\n`);
      process.exit(1);
    });
  }
}

/** Another process committing: one event per request, on its own connection; replies with seq and t0. */
async function writerMain(tree: string, file: string): Promise<void> {
  const { openDb } = (await import(path.join(tree, 'dist/lib/db/index.js'))) as typeof DbLib;
  const { appendEvent } = (await import(path.join(tree, 'dist/lib/events/index.js'))) as typeof EventsLib;
  const db = openDb({ name: 'state', path: file });
  process.on('message', (m: { i: number }) => {
    const t0 = now();
    const seq = db.write((c) =>
      appendEvent(c, { topic: 'bench', type: 'tick', payload: { i: m.i } }, Date.now()),
    );
    process.send!({ seq, t0 });
  });
  process.on('disconnect', () => {
    db.close();
    process.exit(0);
  });
  process.send!({ ready: true });
}

/** One tree's daemon: idle window, then `events` commits of each mode to `clients` clients. */
async function serverMain(
  tree: string,
  clients: number,
  events: number,
  idleS: number,
  clientProcs: number,
): Promise<void> {
  const lib = (p: string): string => path.join(tree, 'dist/lib', p);
  const { parseConfig } = (await import(lib('config/index.js'))) as typeof ConfigLib;
  const { startDaemon } = (await import(lib('daemon/index.js'))) as typeof DaemonLib;
  const { appendEvent } = (await import(lib('events/index.js'))) as typeof EventsLib;
  const { silentLogger } = (await import(lib('log.js'))) as typeof LogLib;
  const { migrateUp } = (await import(lib('migrations/index.js'))) as typeof MigrationsLib;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-ws-'));
  const state = path.join(dir, 'state.sqlite3');
  const pipeline = path.join(dir, 'pipeline.sqlite3');
  await migrateUp({ path: state, set: 'state', backup: false });
  await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
  const config = parseConfig(
    { dataDir: dir, databases: { state, pipeline }, http: { wsMaxConnections: clients + 16 } },
    dir,
  );
  const daemon = await startDaemon({
    name: 'scheduler',
    config,
    log: silentLogger(),
    port: 0,
    run: (_d, signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r())),
  });
  const writer = forkChild(['--writer', tree, state]);
  await nextMessage(writer, 'writer');

  // Idle: nothing commits, nobody is connected; the daemon process at rest (tail looks, timers).
  await sleep(1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(idleS * 1000);
  const cpu = process.cpuUsage(cpu0);
  const idleCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;

  // The hub's fan-out, timed from outside: a wrapper on this instance's method (the same in both trees).
  const fanTimes = new Map<number, { start: number; end: number; cpuMs: number }>();
  const hub = daemon.hub as unknown as { fanOut: (events: { seq: number }[]) => void };
  const fanOut = hub.fanOut.bind(hub);
  hub.fanOut = (evs) => {
    const start = now();
    const cpu0 = process.cpuUsage();
    fanOut(evs);
    const cpu = process.cpuUsage(cpu0);
    const end = now();
    for (const e of evs) fanTimes.set(e.seq, { start, end, cpuMs: (cpu.user + cpu.system) / 1000 });
  };
  // The server's collector pauses, wall-clock like the rest: which send loops a GC fell in.
  const gcs: { start: number; ms: number }[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      gcs.push({ start: performance.timeOrigin + e.startTime, ms: e.duration });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const gcDuring = (from: number, to: number): number =>
    gcs.filter((g) => g.start >= from && g.start <= to).reduce((a, g) => a + g.ms, 0);
  const url = `ws://127.0.0.1:${daemon.port}/ws`;
  const procs = Array.from({ length: clientProcs }, (_, k) =>
    forkChild([
      '--client',
      url,
      String(Math.floor(clients / clientProcs) + (k < clients % clientProcs ? 1 : 0)),
    ]),
  );
  await Promise.all(procs.map((c) => nextMessage(c, 'clients')));
  const empty = (): Record<Mode, number[]> => ({ same: [], other: [] });
  const result: ServerResult = {
    idleCpuPct,
    toLast: empty(),
    toFirst: empty(),
    detect: empty(),
    sendLoop: empty(),
    sendLoopCpu: empty(),
    sendLoopGc: empty(),
    drain: empty(),
    clientCpu: empty(),
  };
  const loops: Record<Mode, { start: number; end: number }[]> = { same: [], other: [] };
  // The kinds alternate event by event, so both meet the same moments of the run (the first events after
  // 1,000 handshakes meet the collector cleaning up after them).
  for (let i = 0; i < events; i++) {
    for (const mode of MODES) {
      type Arrival = { seq: number; first: number; last: number; cpuMs: number };
      const arrivals = procs.map((c) => nextMessage<Arrival>(c, 'clients'));
      for (const c of procs) c.send({ mark: true });
      let seq: number;
      let start: number;
      if (mode === 'same') {
        start = now();
        seq = daemon.deps.state.write((c) =>
          appendEvent(c, { topic: 'bench', type: 'tick', payload: { i } }, Date.now()),
        );
      } else {
        const reply = nextMessage<{ seq: number; t0: number }>(writer, 'writer');
        writer.send({ i });
        ({ seq, t0: start } = await reply);
      }
      const got = await Promise.all(arrivals);
      for (const m of got)
        if (m.seq !== seq) throw new Error(`expected event ${seq}, the clients reported ${m.seq}`);
      const last = Math.max(...got.map((m) => m.last));
      const fan = fanTimes.get(seq);
      if (!fan) throw new Error(`event ${seq} reached the clients without a fan-out`);
      result.toLast[mode].push(last - start);
      result.toFirst[mode].push(Math.min(...got.map((m) => m.first)) - start);
      result.detect[mode].push(fan.start - start);
      result.sendLoop[mode].push(fan.end - fan.start);
      result.sendLoopCpu[mode].push(fan.cpuMs);
      loops[mode].push(fan);
      result.drain[mode].push(last - fan.end);
      result.clientCpu[mode].push(got.reduce((a, m) => a + m.cpuMs, 0));
      // A gap longer than the tail's follow-up looks, so each commit meets an idle tail.
      await sleep(60 + Math.random() * 40);
    }
  }
  // The observer's entries arrive on later ticks: matched to the send loops once all events are done.
  await sleep(100);
  for (const mode of MODES) result.sendLoopGc[mode] = loops[mode].map((l) => gcDuring(l.start, l.end));
  gcObserver.disconnect();
  for (const c of procs) c.kill();
  writer.disconnect();
  await daemon.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  process.send!(result);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main(): Promise<void> {
  const clients = Number(opt('--clients', '1000'));
  const events = Number(opt('--events', '50'));
  const rounds = Number(opt('--rounds', '2'));
  const idleS = Number(opt('--idle-s', '10'));
  const clientProcs = Number(opt('--client-procs', '1'));
  const baselineRef = opt('--baseline', 'main');
  if (!fs.existsSync(path.join(REPO, 'dist/lib/events/index.js')))
    throw new Error('build first: npm run build');
  const dir = path.join(os.tmpdir(), 'contimg-bench-ws-fanout');
  fs.mkdirSync(dir, { recursive: true });
  const trees = { before: buildBaseline(baselineRef, dir), after: REPO };
  const all: Record<'before' | 'after', ServerResult[]> = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const label of order) {
      const server = forkChild([
        '--server',
        trees[label],
        String(clients),
        String(events),
        String(idleS),
        String(clientProcs),
      ]);
      all[label].push(await nextMessage<ServerResult>(server, `${label} server`));
      await new Promise((r) => (server.exitCode === null ? server.once('exit', r) : r(null)));
      process.stderr.write(`round ${r + 1}/${rounds} ${label} done\n`);
    }
  }
  const merged = (
    label: 'before' | 'after',
    key: Exclude<keyof ServerResult, 'idleCpuPct'>,
    mode: Mode,
  ): number[] => all[label].flatMap((x) => x[key][mode]);
  const idle = (label: 'before' | 'after'): number =>
    all[label].map((x) => x.idleCpuPct).reduce((a, b) => a + b, 0) / all[label].length;
  console.log(
    `${clients} clients in ${clientProcs} process(es), ${events} events per kind per round, ${rounds} rounds, idle window ${idleS} s; ` +
      `node ${process.versions.node}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; ` +
      `before = ${baselineRef} (${path.basename(trees.before)}), after = this tree`,
  );
  console.log('\nratios after/before:');
  for (const mode of MODES) {
    const [b, a] = [merged('before', 'toLast', mode), merged('after', 'toLast', mode)];
    console.log(
      `  commit → all clients, ${mode} process:`.padEnd(44) +
        `p50 ×${(pct(a, 50) / pct(b, 50)).toFixed(2)}   p99 ×${(pct(a, 99) / pct(b, 99)).toFixed(2)}`,
    );
  }
  console.log(
    `  idle CPU of the daemon process:`.padEnd(44) + `×${(idle('after') / idle('before')).toFixed(2)}`,
  );
  const f = (xs: number[]): string =>
    `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
  for (const label of ['before', 'after'] as const) {
    console.log(`\n${label}:`);
    for (const mode of MODES) {
      console.log(`  commit → first client, ${mode} process:`.padEnd(44) + f(merged(label, 'toFirst', mode)));
      console.log(
        `  commit → all ${clients} clients, ${mode} process:`.padEnd(44) + f(merged(label, 'toLast', mode)),
      );
    }
    console.log(
      `  idle CPU (no clients, no commits):`.padEnd(44) + `${idle(label).toFixed(3)} % of one core`,
    );
  }
  // Where the time goes: each part's p50 and p99, and the parts of the slowest 1 % of events.
  for (const label of ['before', 'after'] as const) {
    console.log(`\n${label}, where the time goes (p50 / p99; the slowest 1 % of events: mean of each part):`);
    for (const mode of MODES) {
      const total = merged(label, 'toLast', mode);
      const cut = pct(total, 99);
      const slow = total.map((t, i) => (t >= cut ? i : -1)).filter((i) => i >= 0);
      const part = (key: Exclude<keyof ServerResult, 'idleCpuPct'>): string => {
        const xs = merged(label, key, mode);
        const tailMean = slow.reduce((a, i) => a + xs[i], 0) / slow.length;
        return `${pct(xs, 50).toFixed(1)} / ${pct(xs, 99).toFixed(1)} (${tailMean.toFixed(1)})`;
      };
      console.log(
        `  ${mode} process: detect ${part('detect')}, send loop ${part('sendLoop')} (its CPU ${part('sendLoopCpu')}, GC ${part('sendLoopGc')}), ` +
          `clients' drain ${part('drain')} ms; client CPU per event ${part('clientCpu')} ms`,
      );
    }
  }
}

const role = args[0];
if (role === '--child' || role === '--client') clientMain(args[1], Number(args[2]));
else if (role === '--writer') await writerMain(args[1], args[2]);
else if (role === '--server')
  await serverMain(args[1], Number(args[2]), Number(args[3]), Number(args[4]), Number(args[5] ?? 1));
else await main();
