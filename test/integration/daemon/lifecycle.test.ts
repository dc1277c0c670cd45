// The schema guard at start and the SIGTERM drain against a real NOTIFY_SOCKET,
// with the fixture daemon in test/fixtures/daemon started as a real child process.
import path from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { headVersion, migrateUp } from '../../../lib/migrations/index.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { notifyListener, startChild, writeConfig, type DaemonChild, type NotifyListener } from './helpers.js';

let dir: string;
let children: DaemonChild[] = [];
let listener: NotifyListener | undefined;

beforeEach(() => {
  dir = makeTmpDir();
});
afterEach(() => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  children = [];
  listener?.close();
  listener = undefined;
  removeTmpDir(dir);
});

function config(
  db: { statePath: string; pipelinePath: string },
  timeouts: Record<string, number> = {},
): string {
  return writeConfig(dir, {
    dataDir: dir,
    databases: { state: db.statePath, pipeline: db.pipelinePath },
    scheduler: { port: 0 },
    timeouts: { wsPingMs: 200, drainMs: 3000, ...timeouts },
  });
}

function start(file: string, env: Record<string, string> = {}): DaemonChild {
  const c = startChild(file, env);
  children.push(c);
  return c;
}

async function readyz(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
}

describe('schema guard at daemon start (test 10)', () => {
  it('exits 78 with a SchemaVersionError log line on an older state schema', async () => {
    const db = await freshDatabases(dir);
    const older = path.join(dir, 'older.sqlite3');
    await migrateUp({ path: older, set: 'state', to: headVersion('state') - 1, backup: false });
    const c = start(config({ ...db, statePath: older }));
    expect((await c.exit).code).toBe(78);
    const line = c.find('cannot start');
    expect(line?.level).toBe('fatal');
    expect((line?.err as { type: string; message: string }).type).toBe('SchemaVersionError');
    expect((line?.err as { message: string }).message).toMatch(/contimg migrate up --db state/);
  });

  it('refuses to start on a newer schema', async () => {
    const db = await freshDatabases(dir);
    const conn = new Database(db.statePath);
    conn.pragma(`user_version = ${headVersion('state') + 1}`);
    conn.close();
    const c = start(config(db));
    expect((await c.exit).code).toBe(78);
    expect((c.find('cannot start')?.err as { message: string }).message).toMatch(/newer than this build/);
  });

  it('reports ready on a matching schema', async () => {
    const db = await freshDatabases(dir);
    listener = await notifyListener(dir);
    const c = start(config(db), { NOTIFY_SOCKET: listener.path });
    const ready = await waitFor(() => c.find('ready'), { what: 'ready log line' });
    expect(await readyz(ready.port as number)).toBe(200);
    await waitFor(() => listener!.messages.some((m) => m.split('\n').includes('READY=1')), {
      what: 'READY=1',
    });
    c.child.kill('SIGTERM');
    expect((await c.exit).code).toBe(0);
  });

  it('exits 78 when the database file does not exist', async () => {
    const db = await freshDatabases(dir);
    const c = start(config({ ...db, statePath: path.join(dir, 'missing.sqlite3') }));
    expect((await c.exit).code).toBe(78);
    expect(c.stderr.join('\n')).toMatch(/databases\.state: cannot open/);
  });
});

interface WsRecord {
  messages: { type: string; reason?: string }[];
  close?: { code: number; reason: string };
}

function connectWs(port: number): Promise<WsRecord> {
  const rec: WsRecord = { messages: [] };
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  ws.on('message', (d) => rec.messages.push(JSON.parse(String(d)) as { type: string }));
  ws.on('close', (code, reason) => (rec.close = { code, reason: String(reason) }));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(rec));
    ws.once('error', reject);
  });
}

describe('failures inside a running daemon', () => {
  it('an uncaught exception is logged fatal and exits 1', async () => {
    const c = start(config(await freshDatabases(dir)), { FIXTURE_MODE: 'crash' });
    expect((await c.exit).code).toBe(1);
    const line = c.find('uncaught exception');
    expect(line?.level).toBe('fatal');
    expect((line?.err as { message: string }).message).toBe('fixture: thrown from a timer');
  });

  it('run() rejecting before any stop was asked for is logged fatal, drains and exits 1', async () => {
    const c = start(config(await freshDatabases(dir)), { FIXTURE_MODE: 'fail' });
    expect((await c.exit).code).toBe(1);
    expect((c.find('run() failed')?.err as { message: string }).message).toBe('fixture: run() failed');
    expect(c.find('stopped')).toBeDefined();
  });

  it('a ConfigError from run() (a configured file it cannot read) exits 78, naming the key', async () => {
    const c = start(config(await freshDatabases(dir)), { FIXTURE_MODE: 'config-fail' });
    expect((await c.exit).code).toBe(78);
    expect(c.find('run() failed')?.exitCode).toBe(78);
  });
});

describe('SIGTERM drain and systemd integration (test 15)', () => {
  it('READY, WATCHDOG, STOPPING; clients get server_shutdown/1001; in-flight jobs finish; exit 0', async () => {
    const db = await freshDatabases(dir);
    listener = await notifyListener(dir);
    // Far above the jobs' 1 s: "exit before the deadline" must not depend on how loaded the machine is.
    const drainMs = 20_000;
    const c = start(config(db, { drainMs }), {
      NOTIFY_SOCKET: listener.path,
      WATCHDOG_USEC: '400000',
      FIXTURE_MODE: 'jobs',
      FIXTURE_JOBS: '2',
      FIXTURE_JOB_MS: '1000',
    });
    const ready = await waitFor(() => c.find('ready'), { what: 'ready' });
    const msgs = listener.messages;
    await waitFor(() => msgs.some((m) => m.includes('READY=1')), { what: 'READY=1' });
    await waitFor(() => msgs.includes('WATCHDOG=1'), { what: 'WATCHDOG=1' });
    expect(msgs.findIndex((m) => m.includes('READY=1'))).toBeLessThan(msgs.indexOf('WATCHDOG=1'));
    const clients = await Promise.all([connectWs(ready.port as number), connectWs(ready.port as number)]);
    await waitFor(() => c.count('job started') === 2, { what: 'both jobs in flight' });

    const t0 = Date.now();
    c.child.kill('SIGTERM');
    const exit = await c.exit;
    const elapsed = Date.now() - t0;
    expect(exit.code).toBe(0);
    expect(elapsed).toBeLessThan(drainMs);
    expect(c.find('drain deadline passed: aborting in-flight work')).toBeUndefined();
    expect(msgs.some((m) => m.split('\n').includes('STOPPING=1'))).toBe(true);
    expect(c.count('job done')).toBe(2);
    expect(c.find('stopped')?.outcome).toBe('drained');
    // The order on stdout: stopping claims comes before the jobs finish, which come before "stopped".
    const order = c.lines.map((l) => l.msg);
    expect(order.indexOf('stopped claiming')).toBeLessThan(order.lastIndexOf('job done'));
    for (const rec of clients) {
      await waitFor(() => rec.close, { what: 'client close' });
      expect(rec.messages.find((m) => m.type === 'disconnect')?.reason).toBe('server_shutdown');
      expect(rec.close).toEqual({ code: 1001, reason: 'server_shutdown' });
    }
    // The jobs' events committed before exit.
    const conn = new Database(db.statePath, { readonly: true });
    const done = conn.prepare("SELECT count(*) AS n FROM events WHERE type = 'job_done'").get() as {
      n: number;
    };
    conn.close();
    expect(done.n).toBe(2);
  });

  it('a handler that outlives the drain is aborted at the deadline and the exit is still 0', async () => {
    const db = await freshDatabases(dir);
    listener = await notifyListener(dir);
    const drainMs = 600;
    const c = start(config(db, { drainMs }), { NOTIFY_SOCKET: listener.path, FIXTURE_MODE: 'stuck' });
    await waitFor(() => c.find('job started'), { what: 'stuck job' });
    c.child.kill('SIGTERM');
    const exit = await c.exit;
    expect(exit.code).toBe(0);
    expect(c.find('drain deadline passed: aborting in-flight work')).toBeDefined();
    expect(c.find('job aborted')).toBeDefined();
    expect(c.find('stopped')?.outcome).toBe('aborted');
    expect(listener.messages.some((m) => m.includes('STOPPING=1'))).toBe(true);
  });

  it('with the real queue worker: the job outliving the drain is aborted, its lease released, exit 0', async () => {
    const db = await freshDatabases(dir);
    const drainMs = 600;
    const c = start(config(db, { drainMs }), { FIXTURE_MODE: 'queue' });
    await waitFor(() => c.find('job started'), { what: 'job claimed and running' });
    c.child.kill('SIGTERM');
    expect((await c.exit).code).toBe(0);
    expect(c.find('job aborted')).toBeDefined();
    expect((c.find('run finished')?.summary as { released: number }).released).toBe(1);
    const conn = new Database(db.statePath, { readonly: true });
    const job = conn.prepare('SELECT state, lease_expires_at, attempts FROM jobs').get() as {
      state: string;
      lease_expires_at: number | null;
      attempts: number;
    };
    conn.close();
    // Handed back: queued again and claimable at once (no lease left to wait out).
    expect(job.state).toBe('queued');
    expect(job.lease_expires_at ?? 0).toBeLessThanOrEqual(Date.now());
  });

  it('a second signal forces the exit without waiting for the drain', async () => {
    const db = await freshDatabases(dir);
    const c = start(config(db, { drainMs: 30_000 }), { FIXTURE_MODE: 'stuck' });
    await waitFor(() => c.find('job started'), { what: 'stuck job' });
    c.child.kill('SIGTERM');
    await waitFor(() => c.find('shutting down: draining'), { what: 'draining' });
    c.child.kill('SIGINT');
    expect((await c.exit).code).toBe(1);
    expect(c.find('second signal: exiting now without draining')).toBeDefined();
  });
});
