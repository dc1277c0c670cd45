// `contimg dev` (what `npm start` runs) and signals, as a terminal delivers them: Ctrl-C sends SIGINT to the
// whole foreground process group (npm, sh, dev and, before the fix, every daemon), and dev then sends each
// daemon SIGTERM, which a daemon counts as a second signal ("exit now, without draining", exit 1). Each daemon
// now runs in its own process group: after Ctrl-C every one gets exactly one signal, drains and exits 0.
// And when dev itself is SIGKILLed (no chance to stop anything), no daemon outlives it: each sees its stdin
// close, stops itself as under systemd and releases its leases.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DAEMONS, type DaemonName } from '../../../lib/daemon/types.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const NAMES = Object.keys(DAEMONS) as DaemonName[];

let dir: string | undefined;
let dev: ChildProcess | undefined;
let daemonPids: number[] = [];

/** Alive and not a zombie (an orphan's zombie waits for whoever reaps it). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

afterEach(() => {
  // Whatever a failed test left: the dev group, and each daemon's own group.
  for (const pgid of [dev?.pid, ...daemonPids])
    if (pgid !== undefined)
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
  dev = undefined;
  daemonPids = [];
  if (dir) removeTmpDir(dir);
  dir = undefined;
});

/**
 * Start `contimg dev` as a terminal's foreground job (its own process group) and wait until every daemon
 * answers /readyz.
 */
async function startDev(): Promise<{ output: () => string; exited: Promise<number | string | null> }> {
  dir = makeTmpDir('contimg-devsig-');
  const base = ((await freePort()) % 40_000) + 20_000;
  let out = '';
  dev = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'dist/cli/contimg.js'),
      'dev',
      ...['--data-dir', path.join(dir, 'var'), '--port-base', String(base)],
      ...['--no-simulate', '--no-demo-alert', '--for-seconds', '300'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  dev.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  dev.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string | null>((r) => dev!.once('exit', (code, sig) => r(code ?? sig)));
  await waitFor(
    () => {
      if (dev!.exitCode !== null) throw new Error(`dev exited ${dev!.exitCode}: ${out.slice(-2000)}`);
      return /dev: running/.test(out);
    },
    { what: 'dev running', timeoutMs: 60_000, intervalMs: 100 },
  );
  await Promise.all(
    NAMES.map((name, i) =>
      waitFor(async () => (await fetch(`http://127.0.0.1:${base + i}/readyz`).catch(() => null))?.ok, {
        what: `${name} ready`,
        timeoutMs: 60_000,
        intervalMs: 100,
      }),
    ),
  );
  daemonPids = [...out.matchAll(/dev: started [a-z-]+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  expect(daemonPids).toHaveLength(NAMES.length);
  return { output: () => out, exited };
}

describe('contimg dev and signals', { timeout: 180_000 }, () => {
  it('Ctrl-C (SIGINT to the whole process group): every daemon drains and exits 0, and so does dev', async () => {
    const { output, exited } = await startDev();
    process.kill(-dev!.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    const out = output();
    for (const name of NAMES) expect(out).toContain(`dev: ${name} exited (code 0)\n`);
    expect(out).not.toMatch(/second signal/);
    expect(out).toMatch(/dev: stopped\n/);
    for (const pid of daemonPids) expect(running(pid), `pid ${pid}`).toBe(false);
  });

  it('dev SIGKILLed: no daemon outlives it; each stops itself cleanly (leases released)', async () => {
    const { exited } = await startDev();
    process.kill(dev!.pid!, 'SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await waitFor(() => daemonPids.every((pid) => !running(pid)), {
      what: 'every daemon gone',
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    // A daemon that drained handed its leases back; a crashed one would hold them until they expire.
    const db = new Database(path.join(dir!, 'var', 'state.sqlite3'), { readonly: true });
    try {
      const held = db.prepare('SELECT name, owner FROM leases WHERE owner IS NOT NULL').all();
      expect(held).toEqual([]);
      expect((db.prepare('SELECT count(*) AS n FROM leases').get() as { n: number }).n).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });
});
