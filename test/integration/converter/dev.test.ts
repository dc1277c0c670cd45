// `contimg dev` (npm start after the build): runs the built daemons and the simulator; a group gets
// converted by convert-check; SIGTERM stops every child and the command exits 0.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { freePort, pidAlive } from './proc.js';

let dir: string;
afterEach(() => removeTmpDir(dir));

function convertedGroups(statePath: string): string[] {
  if (!fs.existsSync(statePath)) return [];
  const db = new Database(statePath, { readonly: true, fileMustExist: true });
  try {
    return (
      db.prepare("SELECT group_id FROM converter_groups WHERE state = 'converted'").all() as {
        group_id: string;
      }[]
    ).map((r) => r.group_id);
  } catch {
    return []; // not migrated yet
  } finally {
    db.close();
  }
}

/**
 * `contimg dev ARGS` from the build, its stdout and stderr collected; with `pty` under script(1), so its stdout
 * is a terminal (NO_COLOR: plain text to match).
 */
function startDev(args: string[], opts: { pty?: boolean } = {}) {
  const argv = [path.join(REPO_ROOT, 'dist/cli/contimg.js'), 'dev', ...args];
  const child = opts.pty
    ? spawn('script', ['-qfec', [process.execPath, ...argv].join(' '), '/dev/null'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, out: () => out };
}

describe('contimg dev', () => {
  it('starts the built daemons and the simulator, converts a group, stops cleanly on SIGTERM', async () => {
    dir = makeTmpDir('contimg-dev-');
    const varDir = path.join(dir, 'var');
    const base = ((await freePort()) % 50_000) + 10_000;
    const dev = startDev([
      '--data-dir',
      varDir,
      '--port-base',
      String(base),
      '--cadence-s',
      '5',
      '--groups',
      '2',
      '--for-seconds',
      '120',
    ]);
    const { child, exited, out } = dev;
    await waitFor(() => convertedGroups(path.join(varDir, 'state.sqlite3')).length >= 1, {
      what: 'a converted group',
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    // The status page's URL is the first thing dev prints; the daemon's JSON lines stay JSON in a pipe.
    expect(out().split('\n')[0]).toBe(`Status page: http://127.0.0.1:${base}/`);
    expect(out()).toMatch(/^\[streaming-converter\] \{"level":"info"/m);
    expect((await fetch(`http://127.0.0.1:${base}/`)).headers.get('content-security-policy')).toMatch(
      /script-src 'self'/,
    );
    expect(out()).toMatch(
      new RegExp(
        `streaming-converter \\(pid \\d+\\): http://127\\.0\\.0\\.1:${base}/metrics  ws://127\\.0\\.0\\.1:${base}/ws`,
      ),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${base}/metrics`)).text();
    expect(metrics).toMatch(/contimg_converter_conversion_attempts_total\{outcome="ok"\} [1-9]/);
    const pids = [...out().matchAll(/started [a-z-]+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThanOrEqual(1);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out()).toMatch(/dev: stopped/);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(fs.existsSync(path.join(varDir, 'contimg.yaml'))).toBe(true);
  });

  it('reports a daemon that dies on its own and exits 1 (a port already taken)', async () => {
    dir = makeTmpDir('contimg-dev-');
    const base = ((await freePort()) % 50_000) + 10_000;
    // Take the streaming converter's port, so that daemon cannot bind and exits.
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(base, '127.0.0.1', r));
    try {
      const { child, exited, out } = startDev([
        '--data-dir',
        path.join(dir, 'var'),
        '--port-base',
        String(base),
        '--no-simulate',
        '--for-seconds',
        '60',
      ]);
      await waitFor(() => /streaming-converter exited \(code \d+\) unexpectedly/.test(out()), {
        what: 'the converter to die on the taken port',
        timeoutMs: 60_000,
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      expect(out()).toMatch(/dev: stopped with failures: streaming-converter exited \(code [1-9]\d*\)/);
    } finally {
      blocker.close();
    }
  });

  it("shows the daemons' log lines human-readable when its stdout is a terminal (a pty from script(1))", async () => {
    dir = makeTmpDir('contimg-dev-');
    const base = ((await freePort()) % 50_000) + 10_000;
    const { child, exited, out } = startDev(
      [
        '--data-dir',
        path.join(dir, 'var'),
        '--port-base',
        String(base),
        '--no-simulate',
        '--no-demo-alert',
        '--for-seconds',
        '12',
      ],
      { pty: true },
    );
    try {
      await waitFor(() => /dev: stopped/.test(out()), { what: 'dev to stop after 12 s', timeoutMs: 60_000 });
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
    const lines = out().split(/\r?\n/);
    expect(lines[0]).toBe(`Status page: http://127.0.0.1:${base}/`);
    expect(out()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: streaming-converter: \S/m);
    expect(out()).not.toMatch(/\{"level":/);
  });
});
