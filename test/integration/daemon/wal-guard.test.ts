// platform.md §8.4 test 12: a long-lived reader pins the WAL; the guard warns and its RESTART reports busy;
// after the reader closes, the WAL is truncated below journal_size_limit within two guard ticks.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDb, walGuardTick, type Db } from '../../../lib/db/index.js';
import { appendEvent } from '../../../lib/events/index.js';
import { createLogger } from '../../../lib/log.js';
import { createRegistry, dbMetrics } from '../../../lib/metrics.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

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
