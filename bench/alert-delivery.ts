// Alert delivery speed: rounds of 1,000 alerts in 100 groups, each group to a local Slack peer (HTTP) and a
// local SMTP peer (smtp-server), rate limits off. Per notification: time from the group's flush (the outbox row's
// creation, in the same transaction as the flush decision) to the peer receiving it; per round: notifications
// per second through the outbox (first flush → last receipt). The dispatcher runs in process on a real state
// database with the real clock; the peers share the process (a 2-core machine: they compete for CPU).
// Run: npx tsx bench/alert-delivery.ts [rounds]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { raiseAlert } from '../lib/alerts/index.js';
import { parseConfig } from '../lib/config/index.js';
import { startDaemon } from '../lib/daemon/index.js';
import { openDb } from '../lib/db/index.js';
import { silentLogger } from '../lib/log.js';
import { migrateUp } from '../lib/migrations/index.js';
import { run } from '../daemons/alert-dispatcher/run.js';
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const rounds = Number(process.argv[2] ?? 5);
const GROUPS = 100;
const PER_GROUP = 10;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-alerts-'));
const state = path.join(dir, 'state.sqlite3');
const pipeline = path.join(dir, 'pipeline.sqlite3');
await migrateUp({ path: state, set: 'state', backup: false });
await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
// The peers run in their own process, so they do not compete with the dispatcher inside one event loop.
const peer = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    path.join(
      path.dirname(new URL(import.meta.url).pathname),
      '../test/fixtures/alert-dispatcher/peer-server.ts',
    ),
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const ports = await new Promise<{ http: number; smtp: number }>((resolve) =>
  readline
    .createInterface({ input: peer.stdout! })
    .once('line', (l) => resolve(JSON.parse(l) as { http: number; smtp: number })),
);
const stats = async (): Promise<{ http: number[]; smtp: number[] }> =>
  (await fetch(`http://127.0.0.1:${ports.http}/stats`)).json() as Promise<{ http: number[]; smtp: number[] }>;
const slackUrl = `http://127.0.0.1:${ports.http}/services/T/B/bench`;
const config = parseConfig(
  {
    dataDir: dir,
    databases: { state, pipeline },
    alertDispatcher: {
      port: 0,
      tickMs: 50,
      groupWaitS: 0.2,
      groupIntervalS: 3600,
      storm: { maxGroupsPerFlush: 1000 },
      delivery: { pollMs: 100 },
      receivers: [
        { name: 'slack', type: 'slack', url: slackUrl, rate: { perMinute: 0 }, concurrency: 8 },
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
const db = openDb({ name: 'state', path: state });

interface Row {
  id: number;
  receiver: string;
  created_at: number;
  sent_at: number | null;
}
const latencies: number[] = [];
const cpuPerNotification: number[] = [];
const rates: number[] = [];
for (let round = 0; round < rounds; round++) {
  const before = await stats();
  const t0 = Date.now();
  db.write((c) => {
    for (let g = 0; g < GROUPS; g++)
      for (let i = 0; i < PER_GROUP; i++)
        raiseAlert(
          c,
          {
            alertname: `Bench${round}_${g}`,
            severity: 'warning',
            labels: { item: String(i) },
            annotations: { summary: 'bench' },
          },
          t0,
        );
  });
  // The dispatcher's CPU from here on (the raising above stands for the other daemons).
  const cpu0 = process.cpuUsage();
  const expect = 2 * GROUPS;
  let now = before;
  while (now.http.length - before.http.length + now.smtp.length - before.smtp.length < expect) {
    await new Promise((r) => setTimeout(r, 20));
    now = await stats();
  }
  const cpu = process.cpuUsage(cpu0);
  cpuPerNotification.push((cpu.user + cpu.system) / 1000 / expect);
  const slackAt = now.http.slice(before.http.length).sort((a, b) => a - b);
  const mailAt = now.smtp.slice(before.smtp.length).sort((a, b) => a - b);
  const received = [...slackAt, ...mailAt];
  const rows = db.read(
    (c) =>
      c
        .prepare('SELECT id, receiver, created_at, sent_at FROM notifications WHERE id > ? ORDER BY id')
        .all(round * expect) as Row[],
  );
  const flushAt = Math.min(...rows.map((r) => r.created_at));
  // Match receipts to flushes per receiver in order (both are FIFO within a receiver up to concurrency).
  const created = (rc: string) =>
    rows
      .filter((r) => r.receiver === rc)
      .map((r) => r.created_at)
      .sort((a, b) => a - b);
  created('slack').forEach((c, i) => latencies.push(slackAt[i] - c));
  created('mail').forEach((c, i) => latencies.push(mailAt[i] - c));
  const last = Math.max(...received);
  rates.push(expect / ((last - flushAt) / 1000));
  process.stdout.write(
    `round ${round + 1}: ${expect} notifications in ${last - flushAt} ms after the flush\n`,
  );
}
const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs: number[]): number => q(xs, 50);
process.stdout.write(
  [
    '',
    `alert delivery, ${rounds} rounds of ${GROUPS * PER_GROUP} alerts in ${GROUPS} groups → ${2 * GROUPS} notifications (Slack + e-mail) each`,
    `  flush → peer latency   goal p99 ≤ 1000 ms   p50 ${median(latencies)} ms   p99 ${q(latencies, 99)} ms   max ${Math.max(...latencies)} ms`,
    `  outbox throughput      goal ≥ 200/s         median ${median(rates).toFixed(0)}/s   min ${Math.min(...rates).toFixed(0)}/s   max ${Math.max(...rates).toFixed(0)}/s`,
    `  dispatcher CPU per notification (routing, outbox, both writes, rendering, the send): median ${median(cpuPerNotification).toFixed(2)} ms,`,
    `  i.e. ${(1000 / median(cpuPerNotification)).toFixed(0)}/s on one free core; the peers run in their own process`,
    `  (load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, ${os.cpus().length} cores)`,
    '',
  ].join('\n'),
);
db.close();
await daemon.stop('bench done');
peer.kill('SIGTERM');
fs.rmSync(dir, { recursive: true, force: true });
