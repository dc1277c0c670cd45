// The in-process half of the daemon lifecycle: build DaemonDeps (DBs with the schema check, registry,
// HTTP, WebSocket hub), start run(), and stop with the drain sequence of platform.md §7.6. No process
// globals here (signals and exit codes are in main.ts), so tests run a whole daemon inside vitest.
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { openDb, type Db } from '../db/index.js';
import { ConfigError, DbIoError, ShutdownError } from '../errors.js';
import { DaemonHttpServer, resolveHttpToken } from '../http/index.js';
import type { Logger } from '../log.js';
import { createRegistry, dbMetrics, type Registry } from '../metrics.js';
import { assertSchema, headVersion, type MigrationSet } from '../migrations/index.js';
import type { Notifier } from '../notify.js';
import { registerStatusPage } from '../status/index.js';
import { makeTimeouts, type Timeouts } from '../timeouts.js';
import { WsHub } from '../ws/index.js';
import { DAEMONS, type DaemonDeps, type DaemonName, type DaemonRun } from './types.js';
import { startWalKeeper, walKeeperOwner, type WalKeeper } from './wal-keeper.js';

export interface StartOptions {
  name: DaemonName;
  run: DaemonRun;
  config: Config;
  log: Logger;
  clock?: Clock;
  /** Overrides the daemon's configured port (0 = any free port). */
  port?: number;
  /** systemd notification; omitted in tests that do not need it. */
  notifier?: Notifier;
  version?: string;
  /** Where the migration files are (tests); default: the repository's migrations/. */
  migrationsDir?: string;
}

export type StopOutcome = 'drained' | 'aborted' | 'stuck' | 'failed';

export interface RunningDaemon {
  deps: DaemonDeps;
  port: number;
  http: DaemonHttpServer;
  hub: WsHub;
  /** Samples WAL sizes and, holding the wal-keeper lease, checkpoints the state database. */
  keeper: WalKeeper;
  /** Settles when run() settles (rejects if run() failed). */
  done: Promise<void>;
  /** Drain and close everything; idempotent. */
  stop(why?: string): Promise<StopOutcome>;
}

/** Open a database for a daemon; a missing or unopenable file is a deployment error (exit 78), not a crash. */
function openForDaemon(set: MigrationSet, opts: Parameters<typeof openDb>[0], migrationsDir?: string): Db {
  let db: Db;
  try {
    db = openDb(opts);
  } catch (e) {
    if (e instanceof DbIoError) {
      throw new ConfigError(
        `databases.${set}: cannot open ${opts.path} (${e.message}); create it with \`contimg migrate up --db ${set}\``,
        [`databases.${set}: cannot open`],
        e,
      );
    }
    throw e;
  }
  try {
    assertSchema(db, set, migrationsDir);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

function openDatabases(o: StartOptions, registry: Registry): { state: Db; pipeline: Db } {
  const d = o.config.databases;
  const metrics = dbMetrics(registry, ['state', 'pipeline']);
  const common = {
    busyTimeoutMs: d.busyTimeoutMs,
    writeBudgetMs: d.writeBudgetMs,
    syncWriteBudgetMs: d.syncWriteBudgetMs,
    writeStallMs: d.writeStallMs,
    metrics,
    log: o.log,
    clock: o.clock,
  };
  const state = openForDaemon(
    'state',
    { ...common, name: 'state', path: d.state, withReader: true },
    o.migrationsDir,
  );
  try {
    const pipeline = openForDaemon(
      'pipeline',
      { ...common, name: 'pipeline', path: d.pipeline, readonly: true },
      o.migrationsDir,
    );
    return { state, pipeline };
  } catch (e) {
    state.close();
    throw e;
  }
}

function addPlatformChecks(
  http: DaemonHttpServer,
  dbs: { state: Db; pipeline: Db },
  o: StartOptions,
  draining: () => boolean,
): void {
  for (const [set, db] of Object.entries(dbs) as [MigrationSet, Db][]) {
    const expected = headVersion(set, o.migrationsDir);
    http.addReadinessCheck(`db_${set}`, () => {
      const h = db.health();
      return h.ok
        ? { ok: true, detail: `select 1 in ${h.latencyMs.toFixed(1)} ms` }
        : { ok: false, detail: h.error };
    });
    http.addReadinessCheck(`schema_${set}`, () => {
      const v = db.userVersion();
      return { ok: v === expected, detail: `user_version ${v}, expected ${expected}` };
    });
  }
  http.addReadinessCheck('draining', () =>
    draining() ? { ok: false, detail: 'shutting down' } : { ok: true },
  );
}

interface Servers {
  http: DaemonHttpServer;
  hub: WsHub;
  port: number;
}

/** HTTP server with the platform readiness checks, and the WebSocket hub on it; bound before returning. */
async function bindServers(
  o: StartOptions & { clock: Clock },
  dbs: { state: Db; pipeline: Db },
  ctx: { registry: Registry; timeouts: Timeouts; token?: string; draining: () => boolean },
): Promise<Servers> {
  const section = o.config[DAEMONS[o.name].section] as { port: number };
  const { registry, timeouts } = ctx;
  const http = new DaemonHttpServer({
    host: o.config.http.host,
    port: o.port ?? section.port,
    token: ctx.token,
    registry,
    log: o.log,
  });
  addPlatformChecks(http, dbs, o, ctx.draining);
  // The status page on every daemon, so it stays up while any one of them is (docs/status-page.md).
  registerStatusPage(http, {
    name: o.name,
    config: o.config,
    state: dbs.state,
    clock: o.clock,
    log: o.log.child({ component: 'status-page' }),
    token: ctx.token,
    readiness: () => http.readiness(),
  });
  const hub = new WsHub({
    http,
    db: dbs.state,
    log: o.log.child({ component: 'ws' }),
    registry,
    clock: o.clock,
    pingMs: timeouts.wsPingMs,
    maxMissed: timeouts.wsMaxMissed,
    resumeTtlMs: timeouts.resumeTtlMs,
    maxConnections: o.config.http.wsMaxConnections,
  });
  try {
    hub.start();
    return { http, hub, port: await http.listen() };
  } catch (e) {
    await hub.shutdown(0);
    throw e;
  }
}

/**
 * Build everything a daemon needs, bind HTTP/WS, start run(deps, signal) and return a handle. Throws
 * ConfigError or SchemaVersionError (exit 78 in main) before anything has started.
 */
export async function startDaemon(o: StartOptions): Promise<RunningDaemon> {
  const clock = o.clock ?? systemClock;
  const timeouts: Timeouts = makeTimeouts(o.config.timeouts);
  const token = resolveHttpToken(o.config.http);
  const registry = createRegistry({ daemon: o.name, version: o.version });
  const dbs = openDatabases({ ...o, clock }, registry);
  let draining = false;
  let servers: Servers;
  try {
    servers = await bindServers({ ...o, clock }, dbs, {
      registry,
      timeouts,
      token,
      draining: () => draining,
    });
  } catch (e) {
    dbs.state.close();
    dbs.pipeline.close();
    throw e;
  }
  const { http, hub, port } = servers;
  const keeper = startWalKeeper({
    state: dbs.state,
    pipeline: dbs.pipeline,
    maxBytes: o.config.databases.walMaxBytes,
    everyMs: o.config.databases.walCheckMs,
    clock,
    log: o.log.child({ component: 'wal-keeper' }),
    owner: walKeeperOwner(o.name),
  });
  const stopCtl = new AbortController();
  const hardCtl = new AbortController();
  const deps: DaemonDeps = {
    name: o.name,
    config: o.config,
    log: o.log,
    clock,
    timeouts,
    state: dbs.state,
    pipeline: dbs.pipeline,
    registry,
    http,
    addReadinessCheck: (name, check) => http.addReadinessCheck(name, check),
    setStatus: (text) => void o.notifier?.status(text),
    hardStop: hardCtl.signal,
  };
  o.log.info({ port, bind: o.config.http.host, auth: token !== undefined }, 'listening');
  const done = Promise.resolve().then(() => o.run(deps, stopCtl.signal));
  done.catch(() => undefined); // observed by stop() or main.ts; never an unhandled rejection
  let stopping: Promise<StopOutcome> | undefined;
  const stop = (why = 'stop requested'): Promise<StopOutcome> => {
    const setDraining = (): void => {
      draining = true;
    };
    stopping ??= drain({
      deps,
      http,
      hub,
      keeper,
      done,
      stopCtl,
      hardCtl,
      why,
      setDraining,
      notifier: o.notifier,
    });
    return stopping;
  };
  return { deps, port, http, hub, keeper, done, stop };
}

interface DrainArgs {
  deps: DaemonDeps;
  http: DaemonHttpServer;
  hub: WsHub;
  keeper: WalKeeper;
  done: Promise<void>;
  stopCtl: AbortController;
  hardCtl: AbortController;
  why: string;
  setDraining: () => void;
  notifier?: Notifier;
}

/** How long run() gets to settle after the hard abort before we give up on it. */
const HARD_GRACE_MS = 2_000;

/** platform.md §7.6: STOPPING=1, stop claiming, disconnect clients, drain, hard-abort, checkpoint, close. */
async function drain(a: DrainArgs): Promise<StopOutcome> {
  const { deps, log } = { deps: a.deps, log: a.deps.log };
  const t0 = deps.clock.monotonic();
  a.setDraining();
  log.info({ why: a.why, drainMs: deps.timeouts.drainMs }, 'shutting down: draining');
  await a.notifier?.stopping('draining');
  a.stopCtl.abort(new ShutdownError());
  const closing = a.hub.shutdown().then(() => a.http.close());
  const settled = a.done.then(
    () => 'ok' as const,
    (e: unknown) => {
      if (e instanceof ShutdownError) return 'ok' as const;
      log.error({ err: e }, 'run() failed while draining');
      return 'failed' as const;
    },
  );
  let outcome: StopOutcome;
  const first = await raceTimeout(settled, deps.timeouts.drainMs);
  if (first !== undefined) outcome = first === 'ok' ? 'drained' : 'failed';
  else {
    log.warn({ drainMs: deps.timeouts.drainMs }, 'drain deadline passed: aborting in-flight work');
    a.hardCtl.abort(new ShutdownError('drain deadline passed'));
    const second = await raceTimeout(settled, HARD_GRACE_MS);
    outcome = second === undefined ? 'stuck' : second === 'ok' ? 'aborted' : 'failed';
    if (outcome === 'stuck') log.error('run() did not settle after the hard abort; closing anyway');
  }
  await closing;
  a.keeper.stop();
  for (const db of [deps.state, deps.pipeline]) {
    try {
      db.close();
    } catch (e) {
      log.warn({ err: e, db: db.name }, 'closing database failed');
    }
  }
  log.info({ outcome, ms: Math.round(deps.clock.monotonic() - t0) }, 'stopped');
  return outcome;
}

async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
