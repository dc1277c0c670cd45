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
import { HttpPeer, SmtpPeer } from '../test/integration/alert-dispatcher/peers.js';

const rounds = Number(process.argv[2] ?? 5);
const GROUPS = 100;
const PER_GROUP = 10;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-alerts-'));
const state = path.join(dir, 'state.sqlite3');
const pipeline = path.join(dir, 'pipeline.sqlite3');
await migrateUp({ path: state, set: 'state', backup: false });
await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
const slack = new HttpPeer();
const smtp = new SmtpPeer();
await slack.start();
await smtp.start();
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
        { name: 'slack', type: 'slack', url: slack.url, rate: { perMinute: 0 }, concurrency: 8 },
        {
          name: 'mail',
          type: 'email',
          smtp: { host: '127.0.0.1', port: smtp.port },
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
const rates: number[] = [];
for (let round = 0; round < rounds; round++) {
  const before = { slack: slack.delivered.length, mail: smtp.receivedAt.length };
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
  const expect = 2 * GROUPS;
  while (slack.delivered.length - before.slack + smtp.receivedAt.length - before.mail < expect)
    await new Promise((r) => setTimeout(r, 2));
  const slackAt = slack.delivered
    .slice(before.slack)
    .map((q) => q.at)
    .sort((a, b) => a - b);
  const mailAt = smtp.receivedAt.slice(before.mail).sort((a, b) => a - b);
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
    `  (load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, ${os.cpus().length} cores)`,
    '',
  ].join('\n'),
);
db.close();
await daemon.stop('bench done');
await slack.stop();
await smtp.stop();
fs.rmSync(dir, { recursive: true, force: true });
