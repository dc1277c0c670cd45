// lib/systemd-notify against a REAL AF_UNIX datagram socket (a python3 listener), including the abstract namespace.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { silentLogger } from '../../../lib/log.js';
import { SystemdNotifier } from '../../../lib/systemd-notify.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { notifyListener, type NotifyListener } from '../daemon/helpers.js';

let dir: string;
let listener: NotifyListener | undefined;
let notifier: SystemdNotifier | undefined;
beforeEach(() => {
  dir = makeTmpDir();
});
afterEach(async () => {
  await notifier?.close();
  listener?.close();
  notifier = undefined;
  listener = undefined;
  removeTmpDir(dir);
});

const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH, ...extra });

it('sends READY, STATUS, WATCHDOG and STOPPING as separate datagrams, in order', async () => {
  listener = await notifyListener(dir);
  notifier = new SystemdNotifier({
    env: env({ NOTIFY_SOCKET: listener.path }),
    pid: process.pid,
    log: silentLogger(),
  });
  expect(notifier.enabled).toBe(true);
  expect(await notifier.ready('up\nand running')).toBe(true);
  expect(await notifier.status('3 jobs queued')).toBe(true);
  expect(await notifier.watchdog()).toBe(true);
  expect(await notifier.stopping()).toBe(true);
  await waitFor(() => listener!.messages.length === 4, { what: '4 datagrams' });
  // A multi-line status is flattened: every datagram is KEY=VALUE lines.
  expect(listener.messages).toEqual([
    'READY=1\nSTATUS=up and running',
    'STATUS=3 jobs queued',
    'WATCHDOG=1',
    'STOPPING=1',
  ]);
});

it('pings the watchdog at WATCHDOG_USEC/2 only while the probe passes', async () => {
  listener = await notifyListener(dir);
  notifier = new SystemdNotifier({
    env: env({ NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '100000' }),
    pid: process.pid,
    log: silentLogger(),
  });
  expect(notifier.watchdogIntervalMs).toBe(50);
  let healthy = true;
  let probes = 0;
  let acked = 0;
  const ping = notifier.watchdog.bind(notifier);
  notifier.watchdog = async () => {
    const ok = await ping();
    if (ok) acked++;
    return ok;
  };
  const pings = () => listener!.messages.filter((m) => m === 'WATCHDOG=1').length;
  notifier.startWatchdog(() => {
    probes++;
    return healthy;
  });
  await waitFor(() => pings() >= 3, { what: '3 pings' });
  healthy = false;
  const probesAtFail = probes;
  // Ticks never overlap, so once a failing probe has run every earlier ping has been sent; wait until the
  // listener has received each of them (no sleeping on the datagram's way), then count.
  await waitFor(() => probes >= probesAtFail + 1, { what: 'first failing probe' });
  await waitFor(() => pings() === acked, { what: 'listener caught up' });
  const sent = listener.messages.length;
  await waitFor(() => probes >= probesAtFail + 4, { what: '3 more failing probes' });
  // A WATCHDOG=1 already on its way when the probe flipped may still land; nothing after it.
  expect(listener.messages.length).toBeLessThanOrEqual(sent + 1);
  expect(pings()).toBe(acked);
  expect(listener.messages.length).toBe(sent);
});

it('ignores the watchdog when WATCHDOG_PID names another process', () => {
  notifier = new SystemdNotifier({
    env: env({ NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' }),
    pid: process.pid,
    log: silentLogger(),
  });
  expect(notifier.watchdogIntervalMs).toBeUndefined();
});

it('is a no-op without NOTIFY_SOCKET (no helper process)', async () => {
  notifier = new SystemdNotifier({ env: env({}), pid: process.pid, log: silentLogger() });
  expect(notifier.enabled).toBe(false);
  expect(await notifier.ready()).toBe(false);
  expect(notifier.watchdogIntervalMs).toBeUndefined();
});

it('maps a leading @ to the abstract namespace', async () => {
  const name = `contimg-test-${process.pid}-${Date.now()}`;
  const script =
    'import json,socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind("\\0"+sys.argv[1])\n' +
    'print(json.dumps("LISTENING"),flush=True)\nwhile True: print(json.dumps(s.recv(4096).decode()),flush=True)\n';
  const child = spawn('python3', ['-u', '-c', script, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const got: string[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => got.push(JSON.parse(l) as string));
  try {
    await waitFor(() => got.includes('LISTENING'), { what: 'abstract listener' });
    notifier = new SystemdNotifier({
      env: env({ NOTIFY_SOCKET: `@${name}` }),
      pid: process.pid,
      log: silentLogger(),
    });
    expect(await notifier.ready()).toBe(true);
    await waitFor(() => got.includes('READY=1'), { what: 'READY=1 over the abstract socket' });
  } finally {
    child.kill('SIGKILL');
  }
});

it('reports false when the socket does not exist', async () => {
  notifier = new SystemdNotifier({
    env: env({ NOTIFY_SOCKET: `${dir}/absent.sock` }),
    pid: process.pid,
    log: silentLogger(),
  });
  expect(await notifier.ready()).toBe(false);
});

it('does not wait forever on a helper that never acknowledges', async () => {
  listener = await notifyListener(dir);
  notifier = new SystemdNotifier({
    env: env({ NOTIFY_SOCKET: listener.path }),
    pid: process.pid,
    log: silentLogger(),
    python: path.join(REPO_ROOT, 'test/fixtures/daemon/mute-notify-helper.sh'),
    ackTimeoutMs: 200,
  });
  // The drain awaits STOPPING=1 before stopping work: it must settle (false), not hang.
  expect(await notifier.stopping('draining')).toBe(false);
  expect(await notifier.status('still here')).toBe(false);
});
