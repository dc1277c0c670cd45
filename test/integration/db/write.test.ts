// db.write: the transaction is BEGIN IMMEDIATE (the write lock is ours before the body runs), the body runs
// exactly once, foreign keys are enforced on every connection; and the bookkeeping: application errors
// thrown inside fn are not counted as database errors, SQLite errors are classified and counted, and every
// write records its lock wait. Then the rest of a Db's life: its connections, health, backup and close.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { DbBusyError, DbConstraintError, InvalidStateError } from '../../../lib/errors.js';
import { createRegistry, dbMetrics, type Registry } from '../../../lib/metrics.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { createCounter, openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let file: string;
let db: Db;
let registry: Registry;
const children: Forked<{ locked?: boolean; done?: string }>[] = [];
beforeEach(async () => {
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  ({ dir, file, db } = await setUpStateDb({ metrics: dbMetrics(registry, ['state']) }));
  createCounter(db, 0);
});
afterEach(() => tearDownStateDb({ dir, db }, children));

const counter = () => db.read((c) => c.prepare('SELECT value FROM counter').get());

/** Try to take the write lock from another connection without waiting; the SQLite code if refused. */
function otherWriterRefused(other: Database.Database): string | null {
  try {
    other.exec('BEGIN IMMEDIATE');
    other.exec('ROLLBACK');
    return null;
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
}

describe('db.write transactions', () => {
  it('holds the write lock (BEGIN IMMEDIATE) before the body runs, even a body that only reads', () => {
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    try {
      let refused: string | null = 'not run';
      const value = db.write((c) => {
        // Nothing written yet: only an IMMEDIATE transaction holds the lock at this point.
        refused = otherWriterRefused(other);
        return (c.prepare('SELECT value FROM counter').get() as { value: number }).value;
      });
      expect(value).toBe(0);
      expect(refused).toBe('SQLITE_BUSY');
      // And the lock is released with the commit.
      expect(otherWriterRefused(other)).toBeNull();
    } finally {
      other.close();
    }
  });

  it('runs the body once when the lock was busy at the call, and commits it once', async () => {
    const holder = forkFixture<{ locked?: boolean; done?: string }>('lock-holder.ts', [file, '150']);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });
    let runs = 0;
    db.write((c) => {
      runs++;
      c.prepare('UPDATE counter SET value = value + 1').run();
    });
    expect(runs).toBe(1);
    expect(counter()).toEqual({ value: 1 });
  });

  it('does not re-run a body that failed with SQLITE_BUSY of its own, and rolls it back', () => {
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    let runs = 0;
    try {
      const t0 = performance.now();
      expect(() =>
        db.write((c) => {
          runs++;
          c.prepare('UPDATE counter SET value = value + 1').run();
          other.exec('BEGIN IMMEDIATE'); // refused: we hold the lock
        }),
      ).toThrow(DbBusyError);
      expect(runs).toBe(1);
      // Thrown at once, not after a budget spent retrying the body.
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(counter()).toEqual({ value: 0 });
    } finally {
      other.close();
    }
  });

  it('enforces foreign keys on the writer, and has them on in the reader too', async () => {
    const withReader = await setUpStateDb({ withReader: true });
    try {
      for (const conn of [withReader.db.conn, withReader.db.reader, db.conn])
        expect(conn.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(withReader.db.reader).not.toBe(withReader.db.conn);
      // jobs.parent_id references jobs(id): a parent that does not exist is refused.
      expect(() =>
        withReader.db.write((c) =>
          c
            .prepare(
              "INSERT INTO jobs (queue, kind, run_at, parent_id, created_at, updated_at) VALUES ('q', 'k', 0, 424242, 0, 0)",
            )
            .run(),
        ),
      ).toThrow(DbConstraintError);
      expect(withReader.db.read((c) => c.prepare('SELECT count(*) AS n FROM jobs').get())).toEqual({ n: 0 });
    } finally {
      tearDownStateDb(withReader);
    }
  });
});

async function errorsByCode(): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('contimg_db_errors_total')!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.code), v.value]));
}

type Sample = { metricName?: string; value: number; labels: Record<string, unknown> };
async function samples(name: string): Promise<Sample[]> {
  return (await registry.getSingleMetric(name)!.get()).values as Sample[];
}

describe('db.write bookkeeping', () => {
  it('does not count an application error thrown inside fn as a database error', async () => {
    expect(() =>
      db.write(() => {
        throw new InvalidStateError('not now');
      }),
    ).toThrow(InvalidStateError);
    expect(Object.values(await errorsByCode()).every((n) => n === 0)).toBe(true);
  });

  it('classifies and counts SQLite errors', async () => {
    db.write((c) => c.prepare("INSERT INTO leases (name) VALUES ('x')").run());
    expect(() => db.write((c) => c.prepare("INSERT INTO leases (name) VALUES ('x')").run())).toThrow(
      DbConstraintError,
    );
    expect((await errorsByCode()).constraint).toBe(1);
  });

  it('records a lock wait and a transaction duration for every write', async () => {
    db.write(() => undefined);
    db.write(() => undefined);
    const wait = await samples('contimg_db_lock_wait_seconds');
    expect(wait.find((v) => v.metricName === 'contimg_db_lock_wait_seconds_count')?.value).toBe(2);
    const tx = await samples('contimg_db_tx_seconds');
    expect(
      tx.find((v) => v.metricName === 'contimg_db_tx_seconds_count' && v.labels.kind === 'write')?.value,
    ).toBe(2);
  });
});

describe('db connections, health, backup and close', () => {
  const gauge = async (name: string): Promise<Record<string, number>> =>
    Object.fromEntries(
      ((await registry.getSingleMetric(name)!.get()).values as Sample[]).map((v) => [
        `${String(v.labels.db)}/${String(v.labels.role ?? '')}`,
        v.value,
      ]),
    );

  it('counts its connections: writer and reader, only a reader when read-only, none once closed', async () => {
    // beforeEach opened `db` without a separate reader: the writer serves reads.
    expect(await gauge('contimg_db_connections')).toEqual({ 'state/writer': 1, 'state/reader': 0 });
    expect(db.reader).toBe(db.conn);
    const metrics = dbMetrics(registry, ['state', 'pipeline']);
    const both = openStateDb(file, { name: 'state2', withReader: true, metrics });
    const ro = openStateDb(file, { name: 'pipeline', readonly: true, metrics });
    try {
      const g = await gauge('contimg_db_connections');
      expect([g['state2/writer'], g['state2/reader'], g['pipeline/writer'], g['pipeline/reader']]).toEqual([
        1, 1, 0, 1,
      ]);
      expect(both.reader.readonly).toBe(true);
      expect(ro.conn.readonly).toBe(true);
    } finally {
      both.close();
      ro.close();
    }
    const g = await gauge('contimg_db_connections');
    expect([g['state2/writer'], g['state2/reader'], g['pipeline/writer'], g['pipeline/reader']]).toEqual([
      0, 0, 0, 0,
    ]);
    // Closing twice is harmless.
    expect(() => both.close()).not.toThrow();
  });

  it('health: ok with the schema version and the WAL size; a body returning a promise is refused and rolled back', () => {
    db.write((c) => c.prepare('UPDATE counter SET value = 5').run());
    const h = db.health();
    expect(h).toMatchObject({ ok: true, schemaVersion: db.userVersion(), walBytes: db.walBytes() });
    expect(h.schemaVersion).toBeGreaterThan(0);
    expect(h.walBytes).toBeGreaterThan(0);
    expect(h.latencyMs).toBeGreaterThanOrEqual(0);
    expect(h.error).toBeUndefined();
    expect(() =>
      db.write((c) => {
        c.prepare('UPDATE counter SET value = 6').run();
        return Promise.resolve();
      }),
    ).toThrow(/a db.write\(\) body must be synchronous/);
    expect(counter()).toEqual({ value: 5 });
  });

  it('health of a closed connection is not ok and says why', () => {
    const other = openStateDb(file);
    other.close();
    expect(other.health()).toMatchObject({
      ok: false,
      schemaVersion: -1,
      walBytes: 0,
      error: expect.any(String),
    });
  });

  it('backs up online to a new folder; the copy holds the committed data', async () => {
    db.write((c) => c.prepare('UPDATE counter SET value = 9').run());
    const dest = `${dir}/backups/nested/state-copy.sqlite3`;
    await db.backup(dest);
    const copy = new Database(dest, { readonly: true });
    try {
      expect(copy.prepare('SELECT value FROM counter').get()).toEqual({ value: 9 });
    } finally {
      copy.close();
    }
  });

  it('close checkpoints the WAL (passive), once however often it is called', async () => {
    db.write((c) => c.prepare('UPDATE counter SET value = 3').run());
    expect(db.walBytes()).toBeGreaterThan(0);
    db.close();
    db.close();
    const done = (await samples('contimg_db_checkpoints_total')).filter((v) => v.value > 0);
    expect(done.map((v) => [v.labels, v.value])).toEqual([
      [{ db: 'state', mode: 'passive', result: 'ok' }, 1],
    ]);
    // Another connection reads what was written.
    const plain = new Database(file, { readonly: true });
    try {
      expect(plain.prepare('SELECT value FROM counter').get()).toEqual({ value: 3 });
    } finally {
      plain.close();
    }
  });
});
