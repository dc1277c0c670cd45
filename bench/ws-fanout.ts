// WebSocket fan-out: how long one event takes to reach 1,000 connected clients. A daemon (the real
// startDaemon: events tail woken by data_version, one serialisation per event) runs in this process; the
// clients run in a forked child so each side has its own event loop. Times are wall-clock in microsecond
// resolution (performance.timeOrigin + now), comparable across the two processes on one host.
//   npx tsx bench/ws-fanout.ts [clients=1000] [events=50]
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { parseConfig } from '../lib/config/index.js';
import { startDaemon } from '../lib/daemon/index.js';
import { appendEvent } from '../lib/events/index.js';
import { silentLogger } from '../lib/log.js';
import { migrateUp } from '../lib/migrations/index.js';

const now = (): number => performance.timeOrigin + performance.now();

async function clientMain(url: string, n: number): Promise<void> {
  const seen = new Map<number, { first: number; last: number; count: number }>();
  let open = 0;
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'subscribe', topic: 'bench' }));
    });
    ws.on('message', (data) => {
      const t = now();
      const m = JSON.parse(String(data)) as { type: string; seq?: number };
      if (m.type === 'subscribed' && ++open === n) process.send!({ ready: true });
      if (m.type !== 'event') return;
      const s = seen.get(m.seq!) ?? { first: t, last: t, count: 0 };
      s.last = t;
      s.count++;
      seen.set(m.seq!, s);
      if (s.count === n) process.send!({ seq: m.seq, first: s.first, last: s.last });
    });
    ws.on('error', (e) => {
      process.stderr.write(`client error: ${e.message}\n`);
      process.exit(1);
    });
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main(): Promise<void> {
  const clients = Number(process.argv[2] ?? 1000);
  const events = Number(process.argv[3] ?? 50);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-ws-'));
  const state = path.join(dir, 'state.sqlite3');
  const pipeline = path.join(dir, 'pipeline.sqlite3');
  await migrateUp({ path: state, set: 'state', backup: false });
  await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
  const config = parseConfig({ dataDir: dir, databases: { state, pipeline } }, dir);
  const daemon = await startDaemon({
    name: 'scheduler',
    config,
    log: silentLogger(),
    port: 0,
    run: (_d, signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r())),
  });
  const child = fork(
    fileURLToPath(import.meta.url),
    ['--child', `ws://127.0.0.1:${daemon.port}/ws`, String(clients)],
    {
      execArgv: ['--import', 'tsx'],
    },
  );
  const sent = new Map<number, number>();
  const results: { toLast: number; toFirst: number; spread: number }[] = [];
  let onDone: (() => void) | undefined;
  child.on('message', (m: { ready?: boolean; seq?: number; first?: number; last?: number }) => {
    if (m.ready) return onDone?.();
    const t0 = sent.get(m.seq!)!;
    results.push({ toLast: m.last! - t0, toFirst: m.first! - t0, spread: m.last! - m.first! });
    onDone?.();
  });
  const t = now();
  await new Promise<void>((r) => (onDone = r));
  console.log(`${clients} clients connected and subscribed in ${(now() - t).toFixed(0)} ms`);
  for (let i = 0; i < events; i++) {
    const done = new Promise<void>((r) => (onDone = r));
    const t0 = now();
    const seq = daemon.deps.state.write((c) =>
      appendEvent(c, { topic: 'bench', type: 'tick', payload: { i } }, Date.now()),
    );
    sent.set(seq, t0);
    await done;
    await new Promise((r) => setTimeout(r, 20));
  }
  const f = (xs: number[]) =>
    `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`;
  console.log(
    `events: ${results.length}, node ${process.versions.node}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
  );
  console.log(`commit → first client:            ${f(results.map((r) => r.toFirst))}`);
  console.log(`commit → all ${clients} clients:      ${f(results.map((r) => r.toLast))}`);
  console.log(`fan-out spread (first → last):    ${f(results.map((r) => r.spread))}`);
  console.log('(commit → first includes the events tail poll: data_version is checked every 50 ms)');
  child.kill();
  await daemon.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--child') await clientMain(process.argv[3], Number(process.argv[4]));
else await main();
