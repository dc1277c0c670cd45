// `contimg run` (daemon resolution and its errors) and `contimg status` against a running fixture daemon.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDaemonRun } from '../../../cli/commands/run.js';
import { runCli } from '../../helpers/cli.js';
import { freshDatabases } from '../../helpers/db.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { startChild, writeConfig, type DaemonChild } from './helpers.js';

let dir: string;
let child: DaemonChild | undefined;
beforeEach(() => {
  dir = makeTmpDir();
});
afterEach(() => {
  if (child?.child.exitCode === null) child.child.kill('SIGKILL');
  child = undefined;
  removeTmpDir(dir);
});

describe('contimg run', () => {
  it('rejects an unknown daemon name with exit 2 and the list of names', async () => {
    const r = await runCli(['run', 'no-such-daemon', '--config', '/nonexistent.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /unknown daemon "no-such-daemon": expected one of streaming-converter, pointing-monitor/,
    );
  });

  it('says clearly when a known daemon is absent from the build, and loads run() when present', async () => {
    await expect(loadDaemonRun('scheduler', { root: dir, ext: '.ts' })).rejects.toThrow(
      /daemon "scheduler" is not part of this build: .*scheduler\/run\.ts does not exist/,
    );
    fs.mkdirSync(path.join(dir, 'scheduler'));
    fs.writeFileSync(path.join(dir, 'scheduler', 'run.ts'), 'export const notRun = 1;\n');
    await expect(loadDaemonRun('scheduler', { root: dir, ext: '.ts' })).rejects.toThrow(
      /does not export run/,
    );
    fs.mkdirSync(path.join(dir, 'thumbnail-worker'));
    fs.writeFileSync(
      path.join(dir, 'thumbnail-worker', 'run.ts'),
      'export async function run() { return 42; }\n',
    );
    const run = await loadDaemonRun('thumbnail-worker', { root: dir, ext: '.ts' });
    expect(typeof run).toBe('function');
  });

  it('exits 78 on a config problem whether or not the daemon is built', async () => {
    const r = await runCli(['run', 'scheduler', '--config', path.join(dir, 'missing.yaml')]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/cannot read config file/);
  });
});

describe('contimg status', () => {
  it('reports a running daemon ready, the others down, and both schema versions', async () => {
    const db = await freshDatabases(dir);
    const port = await freePort();
    const others = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const cfg = writeConfig(dir, {
      dataDir: dir,
      databases: { state: db.statePath, pipeline: db.pipelinePath },
      scheduler: { port },
      streamingConverter: { port: others[0] },
      pointingMonitor: { port: others[1] },
      alertDispatcher: { port: others[2] },
      thumbnailWorker: { port: others[3] },
    });
    child = startChild(cfg);
    await waitFor(() => child!.find('ready'), { what: 'ready' });

    const one = await runCli(['status', '--config', cfg, '--daemon', 'scheduler', '--json']);
    expect(one.code).toBe(0);
    const body = JSON.parse(one.stdout) as {
      daemons: { daemon: string; up: boolean; ready: boolean }[];
      databases: { db: string; schemaVersion: number; head: number }[];
    };
    expect(body.daemons).toEqual([expect.objectContaining({ daemon: 'scheduler', up: true, ready: true })]);
    for (const d of body.databases) expect(d.schemaVersion).toBe(d.head);

    const all = await runCli(['status', '--config', cfg]);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/scheduler\s+ready/);
    expect(all.stdout).toMatch(/thumbnail-worker\s+down \(ECONNREFUSED\)/);
    child.child.kill('SIGTERM');
    expect((await child.exit).code).toBe(0);
  });
});
