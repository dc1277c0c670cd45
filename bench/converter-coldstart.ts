// Cold start over a populated incoming directory: 100,000 existing files (6,250 converted groups, rows in
// the state DB as a long-running host has them) plus 3 new groups of real files. Spawns the BUILT daemon
// and reports time to ready (/readyz 200, i.e. the first full scan), time until the 3 new groups are
// dispatched, and the daemon's peak RSS (VmHWM). Build first. Run: npx tsx bench/converter-coldstart.ts [files]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrateUp } from '../lib/migrations/index.js';
import { subbandFileName, writeSubbandFile } from '../lib/uvh5/writer.js';
import { seedConverted } from '../test/integration/converter/seed.js';
import { fakeArgv } from '../test/fixtures/converters/argv.js';

const nFiles = Number(process.argv[2] ?? 100_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-cold-'));
const incoming = path.join(dir, 'incoming');
fs.mkdirSync(incoming);
const state = path.join(dir, 'state.sqlite3');
const pipeline = path.join(dir, 'pipeline.sqlite3');
await migrateUp({ path: state, set: 'state', backup: false });
await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
const t0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const nGroups = Math.ceil(nFiles / 16);
const ts = performance.now();
seedConverted(incoming, state, nGroups, t0 - nGroups * 309_000);
for (let g = 0; g < 3; g++)
  for (let sb = 0; sb < 16; sb++)
    writeSubbandFile(path.join(incoming, subbandFileName(t0 + g * 309_000, sb)), {
      subband: sb,
      startMs: t0 + g * 309_000,
      decRad: 0.97,
    });
console.log(
  `seeded ${nGroups * 16} converted files + 48 new in ${((performance.now() - ts) / 1000).toFixed(1)} s`,
);

const port = await new Promise<number>((r) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => r(p));
  });
});
const cfgPath = path.join(dir, 'contimg.json.yaml');
fs.writeFileSync(
  cfgPath,
  JSON.stringify({
    dataDir: dir,
    databases: { state, pipeline },
    log: { level: 'warn' },
    streamingConverter: {
      port,
      incomingDir: incoming,
      settleS: 1,
      minFreeGb: 0,
      maxConcurrent: 3,
      converter: {
        argv: fakeArgv('ok'),
      },
    },
  }),
);
const started = performance.now();
const child = spawn(
  process.execPath,
  [path.resolve('dist/daemons/streaming-converter/main.js'), '--config', cfgPath],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
let readyMs = 0;
for (;;) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
  } catch {
    /* not listening yet */
  }
  await new Promise((r) => setTimeout(r, 20));
}
readyMs = performance.now() - started;
const db = new Database(state, { readonly: true });
for (;;) {
  const n = (
    db.prepare('SELECT COUNT(*) AS n FROM converter_attempts WHERE spawned_at IS NOT NULL').get() as {
      n: number;
    }
  ).n;
  if (n >= 3) break;
  await new Promise((r) => setTimeout(r, 20));
}
const dispatchedMs = performance.now() - started;
const redispatched = (
  db
    .prepare("SELECT COUNT(*) AS n FROM converter_groups WHERE state = 'converted' AND attempts > 1")
    .get() as { n: number }
).n;
const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
console.log(
  `converter-coldstart: ${nGroups * 16} existing files (${nGroups} converted groups) + 3 new groups`,
);
console.log(
  `time to ready (first full scan done): ${(readyMs / 1000).toFixed(2)} s (process start included)`,
);
console.log(`time until the 3 new groups were spawned: ${(dispatchedMs / 1000).toFixed(2)} s (settleS 1)`);
console.log(`peak RSS (VmHWM): ${hwm.toFixed(0)} MB; converted groups re-dispatched: ${redispatched}`);
db.close();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
fs.rmSync(dir, { recursive: true, force: true });
