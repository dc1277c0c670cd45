// Alert delivery speed, before (a git ref, default main, extracted and built in a temp folder) and after (this
// build) in one run, alternating tree by tree so the shared machine's noise falls on both alike; ratios first.
// Per tree and run: a dispatcher (the tree's built run() under startDaemon, real state database, real clock,
// default tickMs and delivery.pollMs) in its own process, and rounds of 1,000 alerts in 100 groups (group wait
// 0.2 s), each group to a local Slack peer (HTTP) and a local SMTP peer (smtp-server), rate limits off,
// concurrency 8 per receiver. The peers run in a third process (they must not share the dispatcher's event
// loop). Per notification: time from the group's flush (the outbox row's creation, in the flush decision's
// transaction) to the peer receiving it, split into stages (flush → claimed: the attempt row opens; claimed →
// peer received; received → settled: the attempt row closes), and raised → flush; per round: notifications
// per second through the outbox (first flush → last receipt) and the dispatcher process's CPU per
// notification. Receipts are matched to notifications by the group's alert name in the message.
// Goals (issue 11): p99 flush → peer ≤ 1 s, ≥ 200 notifications/s.
//   npm run build && npx tsx bench/alert-delivery.ts [--baseline main] [--runs 3] [--rounds 5]
// One tree by hand (e.g. under --cpu-prof): npx tsx bench/alert-delivery.ts --run <tree> <rounds>
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type * as AlertsLib from '../lib/alerts/index.js';
import type * as ConfigLib from '../lib/config/index.js';
import type * as DaemonLib from '../lib/daemon/index.js';
import type * as DbLib from '../lib/db/index.js';
import type * as LogLib from '../lib/log.js';
import type * as MigrationsLib from '../lib/migrations/index.js';
import type * as RunLib from '../daemons/alert-dispatcher/run.js';
import { buildBaseline, REPO } from './baseline.js';

const SELF = fileURLToPath(import.meta.url);
const PEER = path.join(REPO, 'test/fixtures/alert-dispatcher/peer-server.ts');
const GROUPS = 100;
const PER_GROUP = 10;
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};

interface Receipt {
  at: number;
  key: string | null;
}
interface Stages {
  /** raised (another daemon's commit) → flush: group wait (0.2 s) plus the dispatch loop's timing. */
  flush: number[];
  /** flush → peer received, the figure of the goal. */
  total: number[];
  claim: number[];
  send: number[];
  settle: number[];
  slack: number[];
  mail: number[];
}
interface Stats {
  http: Receipt[];
  smtp: Receipt[];
  connections: { http: number; smtp: number };
}
interface RunResult {
  /** Connections the peers accepted over all rounds (the HTTP count includes the bench's own polling). */
  connections: { http: number; smtp: number };
  stages: Stages;
  rates: number[];
  cpuMsPerNotification: number[];
}

/** One tree's dispatcher and `rounds` rounds against it; the result goes to the parent. */
async function runMain(tree: string, rounds: number): Promise<void> {
  const lib = (p: string): string => path.join(tree, 'dist', p);
  const { raiseAlert } = (await import(lib('lib/alerts/index.js'))) as typeof AlertsLib;
  const { parseConfig } = (await import(lib('lib/config/index.js'))) as typeof ConfigLib;
  const { startDaemon } = (await import(lib('lib/daemon/index.js'))) as typeof DaemonLib;
  const { openDb } = (await import(lib('lib/db/index.js'))) as typeof DbLib;
  const { silentLogger } = (await import(lib('lib/log.js'))) as typeof LogLib;
  const { migrateUp } = (await import(lib('lib/migrations/index.js'))) as typeof MigrationsLib;
  const { run } = (await import(lib('daemons/alert-dispatcher/run.js'))) as typeof RunLib;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-alerts-'));
  const state = path.join(dir, 'state.sqlite3');
  const pipeline = path.join(dir, 'pipeline.sqlite3');
  await migrateUp({ path: state, set: 'state', backup: false });
  await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
  const peer = spawn(process.execPath, ['--import', 'tsx', PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise<{ http: number; smtp: number }>((resolve) =>
    readline
      .createInterface({ input: peer.stdout! })
      .once('line', (l) => resolve(JSON.parse(l) as { http: number; smtp: number })),
  );
  const count = async (): Promise<{ received: number }> =>
    (await fetch(`http://127.0.0.1:${ports.http}/count`)).json() as Promise<{ received: number }>;
  const stats = async (): Promise<Stats> =>
    (await fetch(`http://127.0.0.1:${ports.http}/stats`)).json() as Promise<Stats>;
  const config = parseConfig(
    {
      dataDir: dir,
      databases: { state, pipeline },
      alertDispatcher: {
        port: 0,
        groupWaitS: 0.2,
        groupIntervalS: 3600,
        storm: { maxGroupsPerFlush: 1000 },
        receivers: [
          {
            name: 'slack',
            type: 'slack',
            url: `http://127.0.0.1:${ports.http}/services/T/B/bench`,
            rate: { perMinute: 0 },
            concurrency: 8,
          },
          {
            name: 'mail',
            type: 'email',
            smtp: { host: '127.0.0.1', port: ports.smtp },
            from: 'b@x',
            to: ['o@x'],
            rate: { perMinute: 0 },
            concurrency: 8,
          },
        ],
      },
    },
    dir,
  );
  const daemon = await startDaemon({ name: 'alert-dispatcher', run, config, log: silentLogger(), port: 0 });
  // The other daemons' connection: it raises the alerts and reads the outcome.
  const db = openDb({ name: 'state', path: state });
  const start = await stats();
  const result: RunResult = {
    connections: { http: 0, smtp: 0 },
    stages: { flush: [], total: [], claim: [], send: [], settle: [], slack: [], mail: [] },
    rates: [],
    cpuMsPerNotification: [],
  };
  const expect = 2 * GROUPS;
  for (let round = 0; round < rounds; round++) {
    const before = await stats();
    const t0 = Date.now();
    db.write((c) => {
      for (let g = 0; g < GROUPS; g++)
        for (let i = 0; i < PER_GROUP; i++)
          raiseAlert(
            c,
            {
              alertname: `Bench_r${round}_g${g}`,
              severity: 'warning',
              labels: { item: String(i) },
              annotations: { summary: 'bench' },
            },
            t0,
          );
    });
    // The dispatcher's CPU from here on (the raising above stands for the other daemons).
    const cpu0 = process.cpuUsage();
    const deadline = Date.now() + 120_000;
    const target = before.http.length + before.smtp.length + expect;
    while ((await count()).received < target) {
      if (Date.now() > deadline) throw new Error(`round ${round}: not every notification arrived in 120 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const now = await stats();
    // Settled too (the last attempts' rows close after the receipt), so the stages are complete.
    for (;;) {
      const open = db.read(
        (c) =>
          (
            c
              .prepare("SELECT count(*) AS n FROM notifications WHERE state <> 'sent' AND group_key LIKE ?")
              .get(`%Bench_r${round}_g%`) as { n: number }
          ).n,
      );
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const cpu = process.cpuUsage(cpu0);
    result.cpuMsPerNotification.push((cpu.user + cpu.system) / 1000 / expect);
    const rows = db.read(
      (c) =>
        c
          .prepare(
            `SELECT n.receiver, n.group_key AS groupKey, n.created_at AS createdAt,
               a.started_at AS claimedAt, a.finished_at AS settledAt
             FROM notifications n JOIN delivery_attempts a ON a.notification_id = n.id
             WHERE n.group_key LIKE ? AND a.result = 'ok'`,
          )
          .all(`%Bench_r${round}_g%`) as {
          receiver: string;
          groupKey: string;
          createdAt: number;
          claimedAt: number;
          settledAt: number;
        }[],
    );
    if (rows.length !== expect)
      throw new Error(`round ${round}: ${rows.length} sent rows, expected ${expect}`);
    const receipts = {
      slack: new Map(now.http.slice(before.http.length).map((r) => [r.key, r.at])),
      mail: new Map(now.smtp.slice(before.smtp.length).map((r) => [r.key, r.at])),
    };
    let last = 0;
    for (const r of rows) {
      const key = /Bench_r\d+_g\d+/.exec(r.groupKey)![0];
      const at = receipts[r.receiver as 'slack' | 'mail'].get(key);
      if (at === undefined) throw new Error(`round ${round}: no receipt of ${r.receiver} ${key}`);
      last = Math.max(last, at);
      result.stages.flush.push(r.createdAt - t0);
      result.stages.total.push(at - r.createdAt);
      result.stages[r.receiver as 'slack' | 'mail'].push(at - r.createdAt);
      result.stages.claim.push(r.claimedAt - r.createdAt);
      result.stages.send.push(at - r.claimedAt);
      result.stages.settle.push(r.settledAt - at);
    }
    const flushAt = Math.min(...rows.map((r) => r.createdAt));
    result.rates.push(expect / ((last - flushAt) / 1000));
  }
  const end = await stats();
  result.connections = {
    http: end.connections.http - start.connections.http,
    smtp: end.connections.smtp - start.connections.smtp,
  };
  db.close();
  await daemon.stop('bench done');
  peer.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
  // Run by hand (`--run <tree> <rounds>`, e.g. under --cpu-prof), the result goes to stdout.
  if (process.send) process.send(result);
  else process.stdout.write(`${JSON.stringify({ rates: result.rates, cpu: result.cpuMsPerNotification })}\n`);
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main(): Promise<void> {
  const baselineRef = opt('--baseline', 'main');
  const runs = Number(opt('--runs', '3'));
  const rounds = Number(opt('--rounds', '5'));
  if (!fs.existsSync(path.join(REPO, 'dist/daemons/alert-dispatcher/run.js')))
    throw new Error('build first: npm run build');
  const dir = path.join(os.tmpdir(), 'contimg-bench-alert-delivery');
  fs.mkdirSync(dir, { recursive: true });
  const trees = { before: buildBaseline(baselineRef, dir), after: REPO };
  const all: Record<'before' | 'after', RunResult[]> = { before: [], after: [] };
  const loads: number[] = [];
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const label of order) {
      loads.push(os.loadavg()[0]);
      const child: ChildProcess = fork(SELF, ['--run', trees[label], String(rounds)], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const res = await new Promise<RunResult>((resolve, reject) => {
        child.once('message', (m) => resolve(m as RunResult));
        child.once('exit', (code) => reject(new Error(`${label} run exited ${code}`)));
      });
      await new Promise((done) => (child.exitCode === null ? child.once('exit', done) : done(null)));
      all[label].push(res);
      const p99 = pct(res.stages.total, 99);
      const rate = pct(res.rates, 50);
      process.stderr.write(
        `run ${r + 1}/${runs} ${label}: p99 ${p99} ms, median ${rate.toFixed(0)}/s (load ${os.loadavg()[0].toFixed(1)})\n`,
      );
    }
  }
  const merged = (label: 'before' | 'after', k: keyof Stages): number[] =>
    all[label].flatMap((x) => x.stages[k]);
  const rates = (label: 'before' | 'after'): number[] => all[label].flatMap((x) => x.rates);
  const cpu = (label: 'before' | 'after'): number[] => all[label].flatMap((x) => x.cpuMsPerNotification);
  const range = (xs: number[], digits = 0): string =>
    `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  const perRun = (label: 'before' | 'after', f: (r: RunResult) => number, digits = 0): string =>
    range(all[label].map(f), digits);
  console.log(
    `alert delivery: ${runs} runs per tree × ${rounds} rounds of ${GROUPS * PER_GROUP} alerts in ${GROUPS} groups → ` +
      `${2 * GROUPS} notifications (Slack + e-mail) each; node ${process.versions.node}, ${os.cpus().length} cores, ` +
      `load average ${range(loads, 1)} during the runs; before = ${baselineRef} (${path.basename(trees.before)}), after = this tree`,
  );
  console.log('\nratios after/before (all rounds pooled):');
  const ratio = (a: number, b: number): string => `×${(a / b).toFixed(2)}`;
  for (const [name, k] of [
    ['raised → flush', 'flush'],
    ['flush → peer received', 'total'],
    ['  flush → claimed', 'claim'],
    ['  claimed → peer received', 'send'],
  ] as const) {
    const [b, a] = [merged('before', k), merged('after', k)];
    console.log(
      `  ${name}:`.padEnd(32) + `p50 ${ratio(pct(a, 50), pct(b, 50))}   p99 ${ratio(pct(a, 99), pct(b, 99))}`,
    );
  }
  console.log(
    `  notifications/s (median):`.padEnd(32) + ratio(pct(rates('after'), 50), pct(rates('before'), 50)),
  );
  console.log(
    `  CPU per notification (median):`.padEnd(32) + ratio(pct(cpu('after'), 50), pct(cpu('before'), 50)),
  );
  const f = (xs: number[]): string =>
    `min ${Math.min(...xs)} ms, p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms, max ${Math.max(...xs)} ms`;
  for (const label of ['before', 'after'] as const) {
    console.log(`\n${label}:`);
    console.log(
      `  flush → peer received:`.padEnd(34) + `${f(merged(label, 'total'))}   (goal p99 ≤ 1000 ms)`,
    );
    console.log(`    p99 per run:`.padEnd(34) + `${perRun(label, (r) => pct(r.stages.total, 99))} ms`);
    console.log(
      `    Slack / e-mail:`.padEnd(34) +
        `p99 ${pct(merged(label, 'slack'), 99)} / ${pct(merged(label, 'mail'), 99)} ms`,
    );
    console.log(`  raised → flush (group wait 200 ms):`.padEnd(34) + f(merged(label, 'flush')));
    console.log(`  flush → claimed:`.padEnd(34) + f(merged(label, 'claim')));
    console.log(`  claimed → peer received:`.padEnd(34) + f(merged(label, 'send')));
    console.log(`  peer received → settled:`.padEnd(34) + f(merged(label, 'settle')));
    console.log(
      `  notifications/s:`.padEnd(34) +
        `median ${pct(rates(label), 50).toFixed(0)}/s, rounds ${range(rates(label))}/s   (goal ≥ 200/s)`,
    );
    const conns = all[label].map((x) => x.connections);
    console.log(
      `  connections per run:`.padEnd(34) +
        `HTTP ${range(conns.map((c) => c.http))} (bench polling included), SMTP ${range(conns.map((c) => c.smtp))} ` +
        `for ${rounds * GROUPS} messages each`,
    );
    console.log(
      `  dispatcher CPU per notification:`.padEnd(34) +
        `median ${pct(cpu(label), 50).toFixed(2)} ms (routing, outbox, writes, rendering, the send)`,
    );
  }
}

if (args[0] === '--run') await runMain(args[1], Number(args[2]));
else await main();
