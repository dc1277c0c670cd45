// A Db's life apart from lock waits: opening (a missing folder made only when asked, a missing file an error
// naming the database and path), errors of reads and of nested writes classified and counted, the write lock
// still taken after a nested write, checkpoints that wait briefly and restore the busy timeout, health's
// latency from the injected clock, and close: readers closed, gauges zeroed under the database's label,
// nothing logged for a second close or a read-only database, a failed final checkpoint logged.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../../lib/db/index.js';
import { DbBusyError, DbConstraintError, DbIoError, InvalidStateError } from '../../../lib/errors.js';
import { createRegistry, dbMetrics, type DbMetrics, type Registry } from '../../../lib/metrics.js';
import { createCounter, openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { captureLog } from '../../helpers/logs.js';

let dir: string;
let file: string;
let db: Db;
let registry: Registry;
let metrics: DbMetrics;
beforeEach(async () => {
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  metrics = dbMetrics(registry, ['state', 'pipeline']);
  ({ dir, file, db } = await setUpStateDb({ metrics }));
  createCounter(db, 0);
});
afterEach(() => tearDownStateDb({ dir, db }));

type Sample = { metricName?: string; value: number; labels: Record<string, unknown> };
async function samples(name: string): Promise<Sample[]> {
  return (await registry.getSingleMetric(name)!.get()).values as Sample[];
}
const counted = async (name: string) =>
  (await samples(name)).filter((s) => s.value > 0).map((s) => [s.labels, s.value]);

describe('opening', () => {
  it('create makes the missing folders; without it none is made and a missing file is an error naming db and path', () => {
    const made = openDb({ name: 'fresh', path: `${dir}/new/sub/fresh.sqlite3`, create: true });
    made.close();
    expect(fs.existsSync(`${dir}/new/sub/fresh.sqlite3`)).toBe(true);
    expect(() => openDb({ name: 'absent', path: `${dir}/absent/x.sqlite3` })).toThrow();
    expect(fs.existsSync(`${dir}/absent`)).toBe(false);
    let err: unknown;
    try {
      openDb({ name: 'absent', path: `${dir}/x.sqlite3` });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DbIoError);
    expect((err as DbIoError).details).toMatchObject({ db: 'absent', path: `${dir}/x.sqlite3` });
  });
});

describe('errors of reads and nested writes', () => {
  it('a read that SQLite refuses is classified with the database named and counted; an application error is not', async () => {
    // A rollback-journal file (as the pipeline's can be): an EXCLUSIVE lock there keeps readers out.
    const p = `${dir}/rollback-journal.sqlite3`;
    const locker = new Database(p);
    locker.exec('CREATE TABLE counter (value INTEGER); INSERT INTO counter VALUES (7)');
    const ro = openStateDb(p, { name: 'pipeline', readonly: true, busyTimeoutMs: 1, metrics });
    locker.exec('BEGIN EXCLUSIVE');
    try {
      let err: unknown;
      try {
        ro.read((c) => c.prepare('SELECT value FROM counter').get());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DbBusyError);
      expect((err as DbBusyError).details).toMatchObject({ db: 'pipeline' });
      expect(() =>
        ro.read(() => {
          throw new InvalidStateError('not a database error');
        }),
      ).toThrow(InvalidStateError);
      expect(await counted('contimg_db_errors_total')).toEqual([[{ db: 'pipeline', code: 'busy' }, 1]]);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
      ro.close();
    }
  });

  it('reads are timed, in seconds, by the injected clock', async () => {
    let t = 1000;
    const timed = openStateDb(file, {
      name: 'pipeline',
      metrics,
      clock: { now: () => t, monotonic: () => t },
    });
    try {
      timed.read(() => (t += 250));
      const sums = (await samples('contimg_db_tx_seconds')).filter(
        (s) => s.metricName === 'contimg_db_tx_seconds_sum' && s.value > 0,
      );
      expect(sums.map((s) => [s.labels, s.value])).toEqual([[{ db: 'pipeline', kind: 'read' }, 0.25]]);
    } finally {
      timed.close();
    }
  });

  it('a nested write refused by SQLite is classified and counted; the next write takes the lock again', async () => {
    let err: unknown;
    db.write(() => {
      try {
        db.write((c) => {
          c.prepare("INSERT INTO leases (name) VALUES ('x')").run();
          c.prepare("INSERT INTO leases (name) VALUES ('x')").run();
        });
      } catch (e) {
        err = e;
      }
    });
    expect(err).toBeInstanceOf(DbConstraintError);
    expect((err as DbConstraintError).details).toMatchObject({ db: 'state' });
    expect(await counted('contimg_db_errors_total')).toEqual([[{ db: 'state', code: 'constraint' }, 1]]);
    // The nesting depth is back to 0: a new write is a real BEGIN IMMEDIATE, not a savepoint.
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    try {
      let refused: unknown = 'not run';
      db.write(() => {
        try {
          other.exec('BEGIN IMMEDIATE');
          other.exec('ROLLBACK');
          refused = null;
        } catch (e) {
          refused = (e as { code?: unknown }).code;
        }
      });
      expect(refused).toBe('SQLITE_BUSY');
    } finally {
      other.close();
    }
  });

  it('a failed write is rolled back quietly and its SQLite error names the database', () => {
    const { log, lines } = captureLog('debug');
    const logged = openStateDb(file, { name: 'state2', log });
    try {
      logged.write((c) => c.prepare("INSERT INTO leases (name) VALUES ('y')").run());
      let err: unknown;
      try {
        logged.write((c) => c.prepare("INSERT INTO leases (name) VALUES ('y')").run());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DbConstraintError);
      expect((err as DbConstraintError).details).toMatchObject({ db: 'state2' });
      // The rollback went through: nothing to report.
      expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      logged.close();
    }
  });

  it('an application error thrown in a nested write passes through uncounted', async () => {
    expect(() =>
      db.write(() =>
        db.write(() => {
          throw new InvalidStateError('the domain says no');
        }),
      ),
    ).toThrow(new InvalidStateError('the domain says no'));
    expect(await counted('contimg_db_errors_total')).toEqual([]);
  });

  it('a write inside a read on the writer says what to do instead', () => {
    expect(() => db.read(() => db.write(() => undefined))).toThrow(
      new InvalidStateError(
        'state: db.write() inside an open read transaction (db.read on the writer connection); ' +
          'do the read inside db.write instead',
      ),
    );
  });
});

describe('checkpoints and health', () => {
  it('a checkpoint blocked by a reader reports busy within moments, and restores the busy timeout', () => {
    const patient = openStateDb(file, { name: 'state2', busyTimeoutMs: 8000 });
    const reader = new Database(file, { readonly: true });
    try {
      patient.write((c) => c.prepare('UPDATE counter SET value = 1').run());
      reader.exec('BEGIN');
      reader.prepare('SELECT value FROM counter').get();
      patient.write((c) => c.prepare('UPDATE counter SET value = 2').run());
      const t0 = performance.now();
      expect(patient.checkpoint('truncate').busy).toBe(1);
      expect(performance.now() - t0).toBeLessThan(4000);
      expect(patient.conn.pragma('busy_timeout', { simple: true })).toBe(8000);
    } finally {
      reader.close();
      patient.close();
    }
  });

  it('health has no error field when ok, and times itself with the injected clock', () => {
    let t = 5000;
    const clocked = openStateDb(file, { name: 'state2', clock: { now: () => t, monotonic: () => (t += 7) } });
    const h = clocked.health();
    expect(h.ok).toBe(true);
    expect('error' in h).toBe(false);
    expect(h.latencyMs).toBe(7);
    clocked.close();
    expect(clocked.health()).toMatchObject({ ok: false, latencyMs: 7 });
  });
});

describe('close', () => {
  it('closes the separate reader too', () => {
    const both = openStateDb(file, { name: 'state2', withReader: true });
    expect(both.reader).not.toBe(both.conn);
    both.close();
    expect(both.reader.open).toBe(false);
    expect(both.conn.open).toBe(false);
  });

  it('leaves the stall and WAL gauges at 0 under the database label', async () => {
    db.close();
    expect(db.walBytes()).toBe(0);
    for (const name of ['contimg_db_write_stall_seconds', 'contimg_db_wal_bytes']) {
      const all = await samples(name);
      expect(all.every((s) => typeof s.labels.db === 'string')).toBe(true);
      expect(all.find((s) => s.labels.db === 'state')?.value).toBe(0);
    }
  });

  it('logs nothing for a second close or for closing a read-only database', () => {
    const { log, lines } = captureLog('debug');
    const rw = openStateDb(file, { name: 'state2', log });
    const ro = openStateDb(file, { name: 'pipeline', readonly: true, log });
    rw.close();
    rw.close();
    // Frames in the WAL that a checkpoint would have to write back: a read-only connection cannot.
    db.write((c) => c.prepare('UPDATE counter SET value = 4').run());
    ro.close();
    expect(lines.filter((l) => l.level !== 'debug' && l.level !== 'info')).toEqual([]);
  });

  it('a final checkpoint that fails is logged as a warning naming the database', () => {
    const { log, lines } = captureLog('warn');
    const busy = openStateDb(file, { name: 'state2', log });
    const rows = busy.conn.prepare('SELECT value FROM counter').iterate();
    rows.next();
    try {
      // The open cursor makes the connection busy: the checkpoint fails, and so does closing the connection.
      expect(() => busy.close()).toThrow(/busy executing a query/);
      expect(lines).toMatchObject([{ level: 'warn', db: 'state2', msg: 'final checkpoint failed' }]);
      expect(lines[0].err).toBeDefined();
    } finally {
      rows.return?.();
      busy.conn.close();
    }
  });
});
