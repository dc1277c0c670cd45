// A long-lived reader pins the WAL; the guard warns and its RESTART reports busy;
// after the reader closes, the WAL is truncated below journal_size_limit within two guard ticks.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { WAL_KEEPER_LEASE } from '../../../lib/daemon/wal-keeper.js';
import { getLease } from '../../../lib/leases/index.js';
import { openDb, walGuardTick, type Db } from '../../../lib/db/index.js';
import { appendEvent } from '../../../lib/events/index.js';
import { createLogger, silentLogger } from '../../../lib/log.js';
import { createRegistry, dbMetrics } from '../../../lib/metrics.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let db: Db | undefined;
beforeEach(() => {
  dir = makeTmpDir();
});
afterEach(() => {
  db?.close();
  db = undefined;
  removeTmpDir(dir);
});

it('warns while a reader holds the WAL and truncates it once the reader is gone', async () => {
  const { statePath } = await freshDatabases(dir);
  const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  const metrics = dbMetrics(registry, ['state']);
  // RESTART waits up to busy_timeout for the reader before reporting busy: keep it short here.
  db = openDb({ name: 'state', path: statePath, metrics, busyTimeoutMs: 200 });
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({
    daemon: 'test',
    destination: { write: (s: string) => lines.push(JSON.parse(s)) },
  });

  // The long-lived reader: a separate connection with an open read transaction (a snapshot).
  const reader = new Database(statePath, { readonly: true });
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM events').get();

  const maxBytes = 256 * 1024;
  const payload = { blob: 'x'.repeat(2000) };
  for (let i = 0; i < 400; i++) db.write((c) => appendEvent(c, { topic: 't', type: 'fill', payload }, i));
  db.walBytes();
  const gauge = (await registry.getSingleMetric('contimg_db_wal_bytes')!.get()).values[0].value;
  expect(gauge).toBeGreaterThan(maxBytes);

  const pinned = walGuardTick(db, maxBytes, log);
  expect(pinned).toMatchObject({ action: 'restart', busy: true });
  expect(lines.some((l) => l.level === 'warn' && /reader is holding it/.test(l.msg))).toBe(true);
  const checkpoints = await registry.getSingleMetric('contimg_db_checkpoints_total')!.get();
  expect(
    checkpoints.values.find((v) => v.labels.mode === 'restart' && v.labels.result === 'busy')?.value,
  ).toBe(1);

  reader.exec('COMMIT');
  reader.close();
  const journalSizeLimit = db.conn.pragma('journal_size_limit', { simple: true }) as number;
  let ticks = 0;
  let result = walGuardTick(db, maxBytes, log);
  ticks++;
  if (result.walBytes > journalSizeLimit || result.action !== 'truncate') {
    result = walGuardTick(db, maxBytes, log);
    ticks++;
  }
  expect(ticks).toBeLessThanOrEqual(2);
  expect(result.busy).toBe(false);
  expect(db.walBytes()).toBeLessThan(Math.min(journalSizeLimit, maxBytes));
  expect(db.walBytes()).toBe(0);
});

describe('the WAL keeper in the daemon lifecycle', () => {
  const daemons: RunningDaemon[] = [];
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop();
  });

  async function start(paths: { statePath: string; pipelinePath: string }): Promise<RunningDaemon> {
    const config = parseConfig(
      {
        dataDir: dir,
        databases: {
          state: paths.statePath,
          pipeline: paths.pipelinePath,
          walMaxBytes: 64 * 1024,
          walCheckMs: 100,
        },
        timeouts: { drainMs: 2_000 },
      },
      dir,
    );
    const d = await startDaemon({
      name: 'scheduler',
      config,
      log: silentLogger(),
      port: 0,
      run: (_deps, signal) =>
        new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
    });
    daemons.push(d);
    return d;
  }

  const holder = (d: RunningDaemon) => d.deps.state.read((c) => getLease(c, WAL_KEEPER_LEASE));

  it('one daemon holds the wal-keeper lease and truncates the WAL; another takes over when it stops', async () => {
    const paths = await freshDatabases(dir);
    const a = await start(paths);
    const b = await start(paths);
    const first = await waitFor(
      () => {
        const l = holder(a);
        return l?.owner ? l : undefined;
      },
      { what: 'a wal-keeper holder' },
    );
    const [held, other] = first.owner === a.keeper.owner ? [a, b] : [b, a];
    expect(first.owner).toBe(held.keeper.owner);
    expect(other.keeper.owner).not.toBe(held.keeper.owner);
    const payload = { blob: 'x'.repeat(2000) };
    for (let i = 0; i < 300; i++)
      other.deps.state.write((c) => appendEvent(c, { topic: 't', type: 'fill', payload }, i));
    expect(fs.statSync(`${paths.statePath}-wal`).size).toBeGreaterThan(64 * 1024);
    await waitFor(() => fs.statSync(`${paths.statePath}-wal`).size === 0, {
      what: 'WAL truncated by the keeper',
    });
    // Every daemon samples the gauge for both databases.
    expect(await other.deps.registry.metrics()).toMatch(/contimg_db_wal_bytes\{db="pipeline"/);

    daemons.splice(daemons.indexOf(held), 1);
    await held.stop();
    // The stopping daemon handed the lease back: the other's next tick takes it with a new fencing token.
    const next = await waitFor(
      () => {
        const l = holder(other);
        return l?.owner === other.keeper.owner ? l : undefined;
      },
      { what: 'the other daemon takes the wal-keeper lease' },
    );
    expect(next.token).toBeGreaterThan(first.token);
  });
});
