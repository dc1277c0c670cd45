// Chaos: another process (the sqlite3 shell) holds an exclusive write lock on the state database for 40 s
// while the BUILT pointing monitor runs under a systemd-style watchdog (NOTIFY_SOCKET on a real datagram
// socket, WATCHDOG_USEC = 2 s, so a ping is due every second and systemd would kill after 2 s without one).
// Throughout the lock: WATCHDOG=1 keeps arriving (no gap near 2 s), /healthz answers quickly, /readyz is 503
// with the stall as the reason and /metrics shows it. After the release the daemon catches up: the header
// that arrived during the lock is recorded, /readyz is 200 again, and the stall's start and end are logged.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { subbandFileName, writeSubbandFile } from '../../lib/uvh5/index.js';
import { freshDatabases } from '../helpers/db.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import {
  monotonicS,
  notifyListener,
  writeConfig,
  type NotifyListener,
} from '../integration/daemon/helpers.js';

const POINTING = path.join(REPO_ROOT, 'dist/daemons/pointing-monitor/main.js');
const LOCK_MS = 40_000;
const WATCHDOG_USEC = 2_000_000;

interface LogLine {
  level: string;
  msg: string;
  port?: number;
  [k: string]: unknown;
}

const children: ChildProcess[] = [];
let listener: NotifyListener | undefined;
let dir = '';
afterEach(async () => {
  listener?.close();
  listener = undefined;
  for (const c of children.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
  removeTmpDir(dir);
});

function spawnChild(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  children.push(child);
  return child;
}

function lines(stream: NodeJS.ReadableStream, onLine: (l: string) => void): void {
  readline.createInterface({ input: stream }).on('line', onLine);
}

/** An sb00 file for a group starting at startMs, moved into incoming/ whole (the monitor reads settled files). */
function dropGroup(incoming: string, startMs: number): string {
  const name = subbandFileName(startMs, 0);
  const staging = path.join(dir, 'staging', name);
  fs.mkdirSync(path.dirname(staging), { recursive: true });
  writeSubbandFile(staging, { subband: 0, startMs, decRad: (54.5734 * Math.PI) / 180 });
  fs.renameSync(staging, path.join(incoming, name));
  return name.slice(0, 19);
}

async function timedGet(url: string): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t0, body };
}

describe('an external exclusive lock on the state database (built pointing monitor)', () => {
  it('keeps the watchdog and /healthz alive for 40 s, reports the stall, then catches up', async () => {
    expect(fs.existsSync(POINTING), 'run npm run build first').toBe(true);
    dir = makeTmpDir('contimg-chaos-lock-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    const incoming = path.join(dir, 'incoming');
    fs.mkdirSync(incoming);
    const now = Math.floor(Date.now() / 1000) * 1000;
    const firstGroup = dropGroup(incoming, now - 20 * 60_000);
    const config = writeConfig(dir, {
      dataDir: dir,
      databases: { state: statePath, pipeline: pipelinePath },
      log: { level: 'info' },
      pointingMonitor: { port: 0, incomingDir: incoming, pollIntervalS: 0.5, statusIntervalS: 0.5 },
    });

    // The watchdog's socket.
    listener = await notifyListener(dir);
    const sock = listener.path;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NOTIFY_SOCKET: sock,
      WATCHDOG_USEC: String(WATCHDOG_USEC),
    };
    delete env.WATCHDOG_PID;
    const daemon = spawnChild(process.execPath, [POINTING, '--config', config], env);
    const log: LogLine[] = [];
    let stderr = '';
    lines(daemon.stdout!, (l) => {
      try {
        log.push(JSON.parse(l) as LogLine);
      } catch {
        /* not a log line */
      }
    });
    daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const alive = () => {
      if (daemon.exitCode !== null || daemon.signalCode !== null)
        throw new Error(`daemon exited (${daemon.exitCode ?? daemon.signalCode}): ${stderr.slice(-2000)}`);
      return true;
    };
    const ready = await waitFor(() => alive() && log.find((l) => l.msg === 'ready'), {
      what: 'ready',
      timeoutMs: 30_000,
    });
    const base = `http://127.0.0.1:${ready.port}`;
    const state = new Database(statePath, { readonly: true });
    const observed = (groupId: string) =>
      state.prepare('SELECT 1 FROM pointing_observations WHERE group_id = ?').get(groupId) !== undefined;
    const statusUpdatedS = () =>
      (state.prepare('SELECT updated_unix AS t FROM pointing_status').get() as { t: number } | undefined)
        ?.t ?? 0;
    try {
      await waitFor(() => alive() && observed(firstGroup), {
        what: 'first header recorded',
        timeoutMs: 30_000,
      });
      await waitFor(async () => alive() && (await timedGet(`${base}/readyz`)).status === 200, {
        what: 'ready before the lock',
        timeoutMs: 30_000,
      });

      // The lock: an operator's sqlite3 shell with an open exclusive transaction.
      const shell = spawnChild('sqlite3', [statePath]);
      const shellOut: string[] = [];
      lines(shell.stdout!, (l) => shellOut.push(l));
      shell.stdin!.write(
        ".timeout 10000\nBEGIN EXCLUSIVE;\nINSERT INTO events (topic, type, payload, created_at) VALUES ('chaos', 'lock.held', '{}', 0);\nSELECT 'locked';\n",
      );
      await waitFor(() => shellOut.includes('locked'), { what: 'sqlite3 holds the lock', timeoutMs: 30_000 });
      const lockedAt = monotonicS();
      const lockedWallS = Date.now() / 1000;

      // Throughout the lock: /healthz, /readyz and /metrics, and a new header arriving.
      let healthMaxMs = 0;
      let healthChecks = 0;
      let stallReason: string | undefined;
      let stallGauge = 0;
      let secondGroup: string | undefined;
      while (monotonicS() - lockedAt < LOCK_MS / 1000) {
        alive();
        const h = await timedGet(`${base}/healthz`);
        expect(h.status).toBe(200);
        healthMaxMs = Math.max(healthMaxMs, h.ms);
        healthChecks++;
        if (!secondGroup && monotonicS() - lockedAt > 5) secondGroup = dropGroup(incoming, now - 10 * 60_000);
        if (!stallReason && monotonicS() - lockedAt > 8) {
          const r = await timedGet(`${base}/readyz`);
          const checks = (JSON.parse(r.body) as { checks: Record<string, { ok: boolean; detail?: string }> })
            .checks;
          if (r.status === 503 && !checks.db_state.ok) stallReason = checks.db_state.detail;
          const m = /^contimg_db_write_stall_seconds\{db="state"\} ([\d.e+-]+)$/m.exec(
            (await timedGet(`${base}/metrics`)).body,
          );
          stallGauge = Number(m?.[1] ?? 0);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      shell.stdin!.write('COMMIT;\n.quit\n');
      await waitFor(() => shell.exitCode !== null, { what: 'sqlite3 released the lock and quit' });
      const releasedAt = monotonicS();

      // Catching up: the header that came during the lock, the status row, readiness.
      await waitFor(() => alive() && observed(secondGroup!), {
        what: 'the header that arrived during the lock is recorded',
        timeoutMs: 90_000,
      });
      await waitFor(() => alive() && statusUpdatedS() > lockedWallS + LOCK_MS / 1000, {
        what: 'status row written after the release',
        timeoutMs: 90_000,
      });
      await waitFor(async () => alive() && (await timedGet(`${base}/readyz`)).status === 200, {
        what: 'ready again after the release',
        timeoutMs: 30_000,
      });
      const caughtUpAt = monotonicS();

      // Every watchdog ping from a second before the lock to the catch-up: the largest gap between two.
      const pings = listener.arrivals.filter((d) => d.msg === 'WATCHDOG=1').map((d) => d.at);
      const window = pings.filter((t) => t >= lockedAt - 1 && t <= caughtUpAt);
      const gaps = window.slice(1).map((t, i) => t - window[i]);
      const maxGapS = Math.max(...gaps);
      const maxGapAtS = window[gaps.indexOf(maxGapS)] - lockedAt;
      const stallLogged = log.find((l) => l.msg.startsWith('write lock unavailable'));
      const recovered = log.find((l) => l.msg.startsWith('write lock available again'));
      console.log(
        `db-lock chaos: lock ${LOCK_MS / 1000} s; watchdog pings ${window.length} over ` +
          `${(caughtUpAt - lockedAt + 1).toFixed(1)} s, max gap ${(maxGapS * 1000).toFixed(0)} ms ` +
          `(from ${maxGapAtS.toFixed(1)} s after the lock was taken) ` +
          `(expected every ${WATCHDOG_USEC / 2000} ms, systemd kills at ${WATCHDOG_USEC / 1000} ms); ` +
          `/healthz ${healthChecks} checks, max ${healthMaxMs.toFixed(0)} ms; stall gauge ${stallGauge.toFixed(1)} s; ` +
          `caught up ${(caughtUpAt - releasedAt).toFixed(1)} s after the release`,
      );

      expect(window.length).toBeGreaterThan((LOCK_MS / 1000) * 0.75);
      expect(maxGapS * 1_000_000).toBeLessThan(WATCHDOG_USEC);
      expect(healthMaxMs).toBeLessThan(1_000);
      expect(stallReason).toMatch(/write lock stalled/);
      expect(stallGauge).toBeGreaterThan(5);
      expect(stallLogged).toMatchObject({ level: 'warn', db: 'state' });
      expect(recovered).toMatchObject({ level: 'info', db: 'state' });
      expect(recovered!.stalledMs).toBeGreaterThan(LOCK_MS * 0.9);
      expect(log.filter((l) => l.msg === 'liveness probe failed')).toEqual([]);
      alive();
    } finally {
      state.close();
    }
  }, 180_000);
});
