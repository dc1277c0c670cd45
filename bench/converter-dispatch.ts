// Dispatch latency: last subband renamed into place → converter spawned (attempt row spawned_at), over 20
// groups with settleS 1 and the default watch debounce; the daemon runs in process on real files.
// Run: npx tsx bench/converter-dispatch.ts [groups]
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startDaemon } from '../lib/daemon/index.js';
import { silentLogger } from '../lib/log.js';
import { subbandFileName, writeSubbandFile } from '../lib/uvh5/writer.js';
import { makeRun } from '../daemons/streaming-converter/run.js';
import { fakeArgv } from '../test/fixtures/converters/argv.js';
import { converterBenchEnv } from './converter-env.js';

const nGroups = Number(process.argv[2] ?? 20);
const { dir, incoming, staging, state, config } = await converterBenchEnv('dispatch', {
  maxConcurrent: 2,
  converter: { argv: fakeArgv('ok') },
});
const d = await startDaemon({
  name: 'streaming-converter',
  run: makeRun(),
  config,
  log: silentLogger(),
  port: 0,
});
const db = new Database(state, { readonly: true });
const spawnedAt = db.prepare(
  'SELECT a.spawned_at AS t FROM converter_attempts a JOIN converter_groups g ON g.id = a.group_ref WHERE g.group_id = ? AND a.spawned_at IS NOT NULL',
);
const t0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const lat: number[] = [];
for (let g = 0; g < nGroups; g++) {
  const obs = t0 + g * 309_000;
  // 15 subbands first (as they trickle in), the 16th last: the measured one.
  for (let sb = 0; sb < 16; sb++) {
    const name = subbandFileName(obs + (sb % 3) * 1000, sb);
    writeSubbandFile(path.join(staging, name), { subband: sb, startMs: obs, decRad: 0.97 });
    if (sb < 15) fs.renameSync(path.join(staging, name), path.join(incoming, name));
  }
  await new Promise((r) => setTimeout(r, 1500)); // let the first 15 settle
  const last = subbandFileName(obs + 0, 15);
  const renamedAt = Date.now();
  fs.renameSync(path.join(staging, last), path.join(incoming, last));
  const gid = new Date(obs).toISOString().slice(0, 19);
  for (;;) {
    const row = spawnedAt.get(gid) as { t: number } | undefined;
    if (row) {
      lat.push(row.t - renamedAt);
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
lat.sort((a, b) => a - b);
const q = (x: number) => lat[Math.min(lat.length - 1, Math.ceil(x * lat.length) - 1)];
console.log(
  `converter-dispatch: ${nGroups} groups, settleS 1, watch debounce ${config.streamingConverter.watchDebounceMs} ms, scan every ${config.streamingConverter.scanIntervalS} s`,
);
console.log(
  `last subband renamed → converter spawned: p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, min ${lat[0]} ms, max ${lat[lat.length - 1]} ms`,
);
db.close();
await d.stop();
fs.rmSync(dir, { recursive: true, force: true });
