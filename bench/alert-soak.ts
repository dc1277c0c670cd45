// Alert soak: two writer processes raise and resolve alerts at 1,000 updates a minute together (the monitor
// and the daemons), for 10 minutes by default, while the BUILT dispatcher routes and delivers to a local
// webhook peer. Reports: SQLITE_BUSY that escaped (writers and dispatcher), whether alert events, outbox and
// notification log reconcile with what the writers did, deliveries per minute, and the dispatcher's RSS at the
// start and end (flat means no leak). Build first (npm run build).
// Run: npx tsx bench/alert-soak.ts [minutes]
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import YAML from 'yaml';
import { migrateUp } from '../lib/migrations/index.js';
import { HttpPeer } from '../test/integration/alert-dispatcher/peers.js';

const minutes = Number(process.argv[2] ?? 10);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-soak-'));
const state = path.join(dir, 'state.sqlite3');
const pipeline = path.join(dir, 'pipeline.sqlite3');
await migrateUp({ path: state, set: 'state', backup: false });
await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
const hook = new HttpPeer();
await hook.start();
const port = 20_000 + (process.pid % 20_000);
const config = path.join(dir, 'contimg.yaml');
fs.writeFileSync(
  config,
  YAML.stringify({
    dataDir: dir,
    databases: { state, pipeline },
    log: { level: 'warn' },
    alertDispatcher: {
      port,
      groupWaitS: 5,
      groupIntervalS: 30,
      receivers: [{ name: 'hook', type: 'webhook', url: hook.url, rate: { perMinute: 0 }, concurrency: 4 }],
    },
  }),
);
let out = '';
const child = spawn(
  process.execPath,
  [path.join(ROOT, 'dist/daemons/alert-dispatcher/main.js'), '--config', config],
  {
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
child.stdout.on('data', (c: Buffer) => (out += c.toString()));
child.stderr.on('data', (c: Buffer) => (out += c.toString()));
for (;;) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
  } catch {
    /* starting */
  }
  await new Promise((r) => setTimeout(r, 100));
}
async function rssMb(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/contimg_process_resident_memory_bytes (\d+)/.exec(text)?.[1] ?? NaN) / 1e6;
}
const rss: number[] = [await rssMb()];
const sampler = setInterval(() => void rssMb().then((v) => rss.push(v)), 30_000);
type Summary = { fired: number; resolved: number; updates: number; errors: number; busy: number };
const writer = (prefix: string): Promise<Summary> =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'test/fixtures/alert-dispatcher/writer.ts'),
        state,
        prefix,
        '500',
        String(minutes * 60_000),
        '200',
      ],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim()) as Summary),
    ),
  );
const t0 = Date.now();
process.stdout.write(`soak: ${minutes} min, 2 writers × 500 updates/min, dispatcher on :${port}\n`);
const [a, b] = await Promise.all([writer('Left'), writer('Right')]);
const tEnd = Date.now();
// Let the dispatcher catch up (one group interval and delivery).
const db = new Database(state, { readonly: true });
const q = <T>(sql: string): T[] => db.prepare(sql).all() as T[];
let reconciled = false;
for (let i = 0; i < 120 && !reconciled; i++) {
  await new Promise((r) => setTimeout(r, 1000));
  const pending = q<{ n: number }>(
    "SELECT count(*) AS n FROM notifications WHERE state NOT IN ('sent', 'superseded')",
  )[0].n;
  const firing = new Set(
    q<{ k: string }>("SELECT fingerprint || ':' || episode AS k FROM alerts WHERE status = 'firing'").map(
      (x) => x.k,
    ),
  );
  const logged = new Set(
    q<{ notified: string }>('SELECT notified FROM alert_groups').flatMap((g) =>
      (JSON.parse(g.notified) as [string, number][]).map(([fp, ep]) => `${fp}:${ep}`),
    ),
  );
  reconciled = pending === 0 && firing.size === logged.size && [...firing].every((k) => logged.has(k));
}
clearInterval(sampler);
rss.push(await rssMb());
const events = q<{ event: string; n: number }>(
  'SELECT event, count(*) AS n FROM alert_events GROUP BY event',
);
const count = (e: string) => events.find((x) => x.event === e)?.n ?? 0;
const sent = q<{ n: number }>("SELECT count(*) AS n FROM notifications WHERE state = 'sent'")[0].n;
const perMinute: number[] = [];
for (let m = 0; m < minutes; m++)
  perMinute.push(
    hook.delivered.filter((r) => r.at >= t0 + m * 60_000 && r.at < t0 + (m + 1) * 60_000).length,
  );
db.close();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await hook.stop();
const busyInLogs = (out.match(/SQLITE_BUSY|DB_BUSY|database is locked/g) ?? []).length;
process.stdout.write(
  [
    '',
    `alert soak, ${minutes} min, ${a.updates + b.updates} updates (${(((a.updates + b.updates) / (tEnd - t0)) * 60_000).toFixed(0)}/min)`,
    `  SQLITE_BUSY escaped      goal 0              writers ${a.busy + b.busy} (errors ${a.errors + b.errors}), dispatcher log ${busyInLogs}`,
    `  counts reconcile         goal yes            ${count('fired') === a.fired + b.fired && count('resolved') === a.resolved + b.resolved && reconciled ? 'yes' : 'NO'}: fired ${count('fired')}/${a.fired + b.fired}, resolved ${count('resolved')}/${a.resolved + b.resolved}, log = firing set: ${reconciled}`,
    `  deliveries               ${sent} sent = ${hook.delivered.length} received; per minute ${perMinute.join(' ')}`,
    `  dispatcher RSS (MB)      goal flat           start ${rss[0].toFixed(1)}  end ${rss[rss.length - 1].toFixed(1)}  max ${Math.max(...rss).toFixed(1)}  (samples ${rss.map((v) => v.toFixed(0)).join(' ')})`,
    `  (load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, ${os.cpus().length} cores)`,
    '',
  ].join('\n'),
);
fs.rmSync(dir, { recursive: true, force: true });
