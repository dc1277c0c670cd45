// An alert dispatcher running in-process (startDaemon, the real HTTP server and databases) on a test clock:
// wall-clock time moves only when the test says (group waits, retry times, silences), while durations and
// socket timeouts stay real. Helpers raise and resolve alerts as another daemon would, and read the outbox.
import path from 'node:path';
import { Writable } from 'node:stream';
import { raiseAlert, resolveAlert, type Severity } from '../../../lib/alerts/index.js';
import type { Clock } from '../../../lib/clock.js';
import { parseConfig } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { createLogger } from '../../../lib/log.js';
import { run } from '../../../daemons/alert-dispatcher/run.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { HttpPeer, SmtpPeer } from './peers.js';
import { afterEach } from 'vitest';

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

/** Wall time set by the test; monotonic time real (database budgets, durations). */
export class TestClock implements Clock {
  constructor(private t = T0) {}
  now(): number {
    return this.t;
  }
  monotonic(): number {
    return performance.now();
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** The real wall clock, for tests against real senders (Prometheus, Alertmanager) that keep their own time. */
export class RealClock extends TestClock {
  override now(): number {
    return Date.now();
  }
  override advance(): void {
    throw new Error('RealClock cannot be advanced');
  }
}

export interface Running {
  daemon: RunningDaemon;
  port: number;
  clock: TestClock;
  /** A second connection, as another daemon would have. */
  db: Db;
  statePath: string;
  logs: string[];
  base: string;
  stop(): Promise<void>;
}

/** Fast loop timings for tests; the section keys of `dispatcher` override them. */
export function testSection(dispatcher: Record<string, unknown>): Record<string, unknown> {
  return { port: 0, tickMs: 25, delivery: { pollMs: 25 }, ...dispatcher };
}

export async function startDispatcher(
  dir: string,
  dispatcher: Record<string, unknown>,
  opts: { clock?: TestClock; top?: Record<string, unknown>; waitLoaded?: boolean } = {},
): Promise<Running> {
  const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
  return startOn(dir, statePath, pipelinePath, dispatcher, opts);
}

export async function startOn(
  dir: string,
  statePath: string,
  pipelinePath: string,
  dispatcher: Record<string, unknown>,
  opts: { clock?: TestClock; top?: Record<string, unknown>; waitLoaded?: boolean } = {},
): Promise<Running> {
  const clock = opts.clock ?? new TestClock();
  const config = parseConfig(
    {
      dataDir: dir,
      log: { level: 'info' },
      alertDispatcher: testSection(dispatcher),
      ...opts.top,
      databases: { ...(opts.top?.databases as object), state: statePath, pipeline: pipelinePath },
    },
    dir,
  );
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ daemon: 'alert-dispatcher', level: 'info', destination });
  const daemon = await startDaemon({ name: 'alert-dispatcher', run, config, log, clock, port: 0 });
  const db = openDb({ name: 'state', path: statePath });
  // The dispatch loop has loaded its state (so alerts raised next are changes, timed from now).
  if (opts.waitLoaded !== false)
    await waitFor(() => logs.some((l) => l.includes('dispatch state loaded')), {
      what: 'dispatch loop running',
    });
  let stopped = false;
  return {
    daemon,
    port: daemon.port,
    clock,
    db,
    statePath,
    logs,
    base: `http://127.0.0.1:${daemon.port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await daemon.stop('test done');
      db.close();
    },
  };
}

export function raise(
  r: Running,
  alertname: string,
  labels: Record<string, string> = {},
  severity: Severity = 'warning',
  annotations: Record<string, string> = {},
): string {
  return r.db.write(
    (c) =>
      raiseAlert(
        c,
        {
          alertname,
          severity,
          labels,
          annotations: { summary: `${alertname} is bad`, ...annotations },
          source: 'test',
        },
        r.clock.now(),
      ).fingerprint,
  );
}

export function resolve(r: Running, alertname: string, labels: Record<string, string> = {}): void {
  r.db.write((c) => resolveAlert(c, { alertname, labels }, r.clock.now()));
}

export interface OutboxRow {
  id: number;
  receiver: string;
  kind: string;
  state: string;
  attempts: number;
  group_key: string;
  status: string;
  content: string;
  last_error: string | null;
  last_result: string | null;
  failover_of: number | null;
  dedup_key: string;
}

export function outbox(r: Running, where = '1=1'): OutboxRow[] {
  return r.db.read(
    (c) => c.prepare(`SELECT * FROM notifications WHERE ${where} ORDER BY id`).all() as OutboxRow[],
  );
}

export function attempts(
  r: Running,
  notificationId?: number,
): {
  notification_id: number;
  attempt_no: number;
  result: string | null;
  started_at: number;
  finished_at: number | null;
  http_status: number | null;
  smtp_code: number | null;
  error: string | null;
  retry_after_ms: number | null;
}[] {
  return r.db.read(
    (c) =>
      c
        .prepare(
          `SELECT * FROM delivery_attempts ${notificationId === undefined ? '' : 'WHERE notification_id = ?'} ORDER BY id`,
        )
        .all(...(notificationId === undefined ? [] : [notificationId])) as ReturnType<typeof attempts>,
  );
}

/** Advance the test clock in steps, letting the loops tick between them (real time: a few ticks each). */
export async function advance(r: Running, ms: number, stepMs = ms): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    r.clock.advance(Math.min(stepMs, ms - done));
    await new Promise((res) => setTimeout(res, 80));
  }
}

export async function metricsText(r: Running): Promise<string> {
  return (await fetch(`${r.base}/metrics`)).text();
}

export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const sel = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  for (const line of text.split('\n')) {
    if (Object.keys(labels).length === 0 && line.startsWith(`${name} `)) return Number(line.split(' ').pop());
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => inner.includes(`${k}="${v}"`)))
      return Number(line.split(' ').pop());
  }
  throw new Error(`no series ${name}{${sel}}`);
}

export { waitFor };

/**
 * One test's dispatcher, peers and temp folder, all stopped and removed after each test: `start` makes the
 * folder and runs the dispatcher; `http()` and `smtp()` start peers (before the dispatcher, whose config
 * needs their ports).
 */
export function scope(prefix: string): {
  readonly r: Running;
  readonly dir: string;
  start(dispatcher: Record<string, unknown>, opts?: Parameters<typeof startDispatcher>[2]): Promise<Running>;
  http(): Promise<HttpPeer>;
  smtp(port?: number, extra?: Parameters<SmtpPeer['start']>[1]): Promise<SmtpPeer>;
} {
  let running: Running | undefined;
  let dir = '';
  const peers: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    for (const p of peers.splice(0)) await p.stop();
    if (dir) removeTmpDir(dir);
    dir = '';
  });
  return {
    get r() {
      if (!running) throw new Error('no dispatcher started in this test');
      return running;
    },
    get dir() {
      return dir;
    },
    async start(dispatcher, opts) {
      dir = makeTmpDir(prefix);
      running = await startDispatcher(dir, dispatcher, opts);
      for (const p of peers) if (p instanceof HttpPeer) p.clock = () => running!.clock.now();
      return running;
    },
    async http() {
      const p = new HttpPeer();
      await p.start();
      peers.push(p);
      return p;
    },
    async smtp(port = 0, extra = {}) {
      const p = new SmtpPeer();
      await p.start(port, extra);
      peers.push(p);
      return p;
    },
  };
}
