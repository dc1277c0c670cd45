// A real single-node Slurm cluster on loopback for tests: its own munged (own key and socket), slurmctld and
// slurmd, a generated slurm.conf with free ports, state, spool, logs and pids in a temp dir, no cgroups
// (proctrack/linuxproc, task/none) and no slurmdbd (jobcomp/filetxt, which `sacct -c` reads). Several test
// files may start one at once: everything (ports, paths, socket) is private to the cluster. A machine
// without Slurm or munge fails the test that asks for a cluster (never a skip).
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './net.js';
import { makeTmpDir, removeTmpDir } from './tmp.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

export const SLURM_BINARIES = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sacct', 'scancel'];

export interface SlurmCluster {
  dir: string;
  /** The slurm.conf: the Slurm commands need SLURM_CONF=conf. */
  conf: string;
  partition: string;
  env: NodeJS.ProcessEnv;
  /** Stop slurmctld only (the controller down; slurmd and munged keep running). */
  stopController(): Promise<void>;
  startController(): Promise<void>;
  /** Every job the controller knows (any state) with its name: `squeue -h -t all -o %i|%j|%T`. */
  jobs(): Promise<{ id: string; name: string; state: string }[]>;
  stop(): Promise<void>;
}

function which(bin: string): string {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(d, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(`${bin} is not installed: the Slurm tests need slurmctld, slurmd, slurm-client and munge`);
}

function readPid(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return n > 0 ? n : null;
  } catch {
    return null;
  }
}

function alive(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function killAndWait(pidFile: string): Promise<void> {
  const pid = readPid(pidFile);
  if (!alive(pid)) return;
  process.kill(pid!, 'SIGTERM');
  try {
    await waitFor(() => !alive(pid), { timeoutMs: 15_000, what: `pid ${pid} to exit` });
  } catch {
    if (alive(pid)) process.kill(pid!, 'SIGKILL');
    await waitFor(() => !alive(pid), { timeoutMs: 5_000, what: `pid ${pid} to die` });
  }
}

function confText(o: { dir: string; host: string; ctlPort: number; dPort: number; socket: string }): string {
  const d = o.dir;
  return `${[
    `ClusterName=t${crypto.randomBytes(3).toString('hex')}`,
    `SlurmctldHost=${o.host}(127.0.0.1)`,
    'SlurmUser=root',
    'SlurmdUser=root',
    `SlurmctldPort=${o.ctlPort}`,
    `SlurmdPort=${o.dPort}`,
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${o.socket}`,
    `StateSaveLocation=${d}/state`,
    `SlurmdSpoolDir=${d}/spool`,
    `SlurmctldPidFile=${d}/slurmctld.pid`,
    `SlurmdPidFile=${d}/slurmd.pid`,
    `SlurmctldLogFile=${d}/slurmctld.log`,
    `SlurmdLogFile=${d}/slurmd.log`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    'SchedulerParameters=batch_sched_delay=0',
    'MpiDefault=none',
    'MailProg=/bin/true',
    'ReturnToService=2',
    'MinJobAge=300',
    // Time limits are enforced this often (default 30 s): a TIMEOUT test waits less.
    'InactiveLimit=0',
    'KillWait=5',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/filetxt',
    `JobCompLoc=${d}/jobcomp.log`,
    `NodeName=${o.host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN`,
    `PartitionName=debug Nodes=${o.host} Default=YES MaxTime=INFINITE State=UP`,
  ].join('\n')}\n`;
}

/** Start munged, slurmctld and slurmd in a fresh temp dir and wait until the node is idle. */
export async function startSlurmCluster(): Promise<SlurmCluster> {
  const bins = Object.fromEntries(SLURM_BINARIES.map((b) => [b, which(b)]));
  const dir = makeTmpDir('contimg-slurm-');
  // munged refuses a socket folder others cannot traverse, and a key readable by others.
  fs.chmodSync(dir, 0o755);
  for (const sub of ['state', 'spool', 'munge']) fs.mkdirSync(path.join(dir, sub), { mode: 0o700 });
  fs.chmodSync(path.join(dir, 'munge'), 0o711);
  const key = path.join(dir, 'munge', 'munge.key');
  fs.writeFileSync(key, crypto.randomBytes(1024), { mode: 0o600 });
  const socket = path.join(dir, 'munge', 'munge.socket');
  const host = os.hostname().split('.')[0];
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(conf, confText({ dir, host, ctlPort: await freePort(), dPort: await freePort(), socket }));
  const env = { ...process.env, SLURM_CONF: conf };
  const ctlPid = path.join(dir, 'slurmctld.pid');
  const dPid = path.join(dir, 'slurmd.pid');
  const mungePid = path.join(dir, 'munge', 'munged.pid');
  const startController = async (): Promise<void> => {
    await run(bins.slurmctld, ['-f', conf], { env });
    await waitFor(async () => (await run(bins.squeue, ['-h'], { env }), true), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'slurmctld to answer',
    });
  };
  const cluster: SlurmCluster = {
    dir,
    conf,
    partition: 'debug',
    env,
    startController,
    stopController: () => killAndWait(ctlPid),
    async jobs() {
      const { stdout } = await run(bins.squeue, ['-h', '-t', 'all', '-o', '%i|%j|%T'], { env });
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [id, name, state] = l.split('|');
          return { id, name, state };
        });
    },
    async stop() {
      await killAndWait(dPid);
      await killAndWait(ctlPid);
      await killAndWait(mungePid);
      removeTmpDir(dir);
    },
  };
  try {
    await run(bins.munged, [
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--log-file=${path.join(dir, 'munge', 'munged.log')}`,
      `--pid-file=${mungePid}`,
      `--seed-file=${path.join(dir, 'munge', 'munged.seed')}`,
    ]);
    await startController();
    await run(bins.slurmd, ['-f', conf], { env });
    await waitFor(
      () => {
        const out = execFileSync(which('sinfo'), ['-h', '-o', '%T'], { env, encoding: 'utf8' });
        return out.trim() === 'idle';
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the Slurm node to be idle' },
    );
  } catch (e) {
    const logs = ['slurmctld.log', 'slurmd.log', 'munge/munged.log']
      .map(
        (f) =>
          `--- ${f}\n${fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8').slice(-2000) : ''}`,
      )
      .join('\n');
    await cluster.stop().catch(() => undefined);
    throw new Error(`cannot start the test Slurm cluster: ${(e as Error).message}\n${logs}`);
  }
  return cluster;
}

/** One cluster for the calling test file: started before its tests, stopped after them. */
export function clusterForFile(): () => SlurmCluster {
  let cluster: SlurmCluster | undefined;
  beforeAll(async () => {
    cluster = await startSlurmCluster();
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);
  return () => {
    if (!cluster) throw new Error('the Slurm cluster did not start');
    return cluster;
  };
}
