// Slurm executor against the local one, in one run on the loopback single-node cluster (test/helpers/slurm.ts):
// 1. last subband renamed into place → the converter program running (its own first line, so the same clock
//    for both executors: for Slurm that is the job RUNNING), p50/p95 over N groups per executor, the groups
//    alternating between a local-executor daemon and a Slurm-executor daemon (ratios first: the machine is
//    shared and noisy);
// 2. squeue/sacct calls per minute per tracked job at the default pollS (10 s), over jobs that run 60 s.
// Run: npx tsx bench/converter-slurm.ts [groups per executor, default 20] [tracking window s, default 60]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type RunningDaemon } from '../lib/daemon/index.js';
import { silentLogger } from '../lib/log.js';
import { execCommand, type Exec } from '../lib/slurm/index.js';
import { subbandFileName, writeSubbandFile } from '../lib/uvh5/writer.js';
import { makeRun } from '../daemons/streaming-converter/run.js';
import { startSlurmCluster } from '../test/helpers/slurm.js';
import { CONVERT_CHECK_ARGS } from '../lib/config/convert-check.js';
import { converterBenchEnv } from './converter-env.js';

const nGroups = Number(process.argv[2] ?? 20);
const windowS = Number(process.argv[3] ?? 60);
const CONVERTER = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../test/fixtures/converters/slurm-converter.mjs',
);
const argv = (mode: string) => [process.execPath, CONVERTER, mode, ...CONVERT_CHECK_ARGS.slice(1)];

const cluster = await startSlurmCluster();
const calls: Record<string, number> = { sbatch: 0, squeue: 0, sacct: 0, scancel: 0 };
const counting: Exec = (cmd, args, env, t) => {
  calls[cmd] = (calls[cmd] ?? 0) + 1;
  return execCommand(cmd, args, env, t);
};

interface Side {
  name: string;
  dir: string;
  incoming: string;
  staging: string;
  log: string;
  daemon: RunningDaemon;
}

async function side(
  name: string,
  executor: Record<string, unknown>,
  mode: string,
  maxConcurrent = 2,
): Promise<Side> {
  const { dir, incoming, staging, config } = await converterBenchEnv(`slurm-${name}`, {
    maxConcurrent,
    executor,
    converter: { argv: argv(mode), timeoutS: 600 },
  });
  const log = path.join(dir, 'converter.log');
  const daemon = await startDaemon({
    name: 'streaming-converter',
    run: makeRun({ baseEnv: { ...process.env, FAKE_CONVERTER_LOG: log }, slurmExec: counting }),
    config,
    log: silentLogger(),
    port: 0,
  });
  return { name, dir, incoming, staging, log, daemon };
}

function starts(s: Side): Map<string, number> {
  const out = new Map<string, number>();
  if (!fs.existsSync(s.log)) return out;
  for (const l of fs.readFileSync(s.log, 'utf8').split('\n').filter(Boolean)) {
    const j = JSON.parse(l) as { event: string; group: string; t: number };
    if (j.event === 'start' && !out.has(j.group)) out.set(j.group, j.t);
  }
  return out;
}

async function oneGroup(s: Side, obs: number): Promise<number> {
  for (let sb = 0; sb < 16; sb++) {
    const name = subbandFileName(obs + (sb % 3) * 1000, sb);
    writeSubbandFile(path.join(s.staging, name), { subband: sb, startMs: obs, decRad: 0.97 });
    if (sb < 15) fs.renameSync(path.join(s.staging, name), path.join(s.incoming, name));
  }
  await new Promise((r) => setTimeout(r, 1500)); // the first 15 settle
  const last = subbandFileName(obs, 15);
  const renamedAt = Date.now();
  fs.renameSync(path.join(s.staging, last), path.join(s.incoming, last));
  const gid = new Date(obs).toISOString().slice(0, 19);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const t = starts(s).get(gid);
    if (t !== undefined) return t - renamedAt;
    if (Date.now() > deadline) throw new Error(`${s.name}: group ${gid} never started`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const q = (xs: number[], p: number) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
};

try {
  const local = await side('local', { kind: 'local' }, 'ok');
  const slurm = await side(
    'slurm',
    { kind: 'slurm', partition: cluster.partition, slurmConf: cluster.conf, pollS: 1 },
    'ok',
  );
  const lat: Record<string, number[]> = { local: [], slurm: [] };
  const t0 = Date.UTC(2025, 5, 1, 12, 0, 0);
  for (let g = 0; g < nGroups; g++)
    for (const s of g % 2 ? [slurm, local] : [local, slurm])
      lat[s.name].push(await oneGroup(s, t0 + g * 309_000));
  await local.daemon.stop();
  await slurm.daemon.stop();
  const [l50, l95, s50, s95] = [q(lat.local, 0.5), q(lat.local, 0.95), q(lat.slurm, 0.5), q(lat.slurm, 0.95)];
  console.log(
    `converter-slurm: ${nGroups} groups per executor, settleS 1, interleaved; load average ${os.loadavg()[0].toFixed(1)}`,
  );
  console.log(
    `ratio slurm/local: p50 ${(s50 / l50).toFixed(2)}×, p95 ${(s95 / l95).toFixed(2)}× (+${s50 - l50} ms / +${s95 - l95} ms)`,
  );
  console.log(
    `last subband in place → converter running: local p50 ${l50} ms, p95 ${l95} ms; slurm (job RUNNING) p50 ${s50} ms, p95 ${s95} ms`,
  );

  // 2. Tracking cost at the default poll interval: jobs that run for the whole window.
  const tracked = Math.min(2, nGroups);
  const track = await side(
    'track',
    { kind: 'slurm', partition: cluster.partition, slurmConf: cluster.conf },
    `sleep:${(windowS + 20) * 1000}`,
    tracked,
  );
  for (let g = 0; g < tracked; g++) {
    const obs = t0 + (1000 + g) * 309_000;
    for (let sb = 0; sb < 16; sb++) {
      const name = subbandFileName(obs, sb);
      writeSubbandFile(path.join(track.staging, name), { subband: sb, startMs: obs, decRad: 0.97 });
      fs.renameSync(path.join(track.staging, name), path.join(track.incoming, name));
    }
  }
  const deadline = Date.now() + 120_000;
  while (starts(track).size < tracked) {
    if (Date.now() > deadline) throw new Error('tracked jobs never started');
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = { ...calls };
  const from = Date.now();
  await new Promise((r) => setTimeout(r, windowS * 1000));
  const minutes = (Date.now() - from) / 60_000;
  const per = (cmd: string) => (calls[cmd] - before[cmd]) / minutes / tracked;
  console.log(
    `tracking at pollS 10 (${tracked} running jobs, ${windowS} s): squeue ${per('squeue').toFixed(1)}/min/job, sacct ${per('sacct').toFixed(1)}/min/job (+1 squeue and 1 sacct per job when it ends)`,
  );
  await track.daemon.stop();
  for (const s of [local, slurm, track]) fs.rmSync(s.dir, { recursive: true, force: true });
} finally {
  await cluster.stop();
}
