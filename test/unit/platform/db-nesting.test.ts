// db.write() nesting: inside another write it is a savepoint under the same IMMEDIATE lock; inside a read
// transaction on the writer connection it would be a deferred read-then-write, so it is refused at once.
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDb, type Db } from '../../../lib/db/index.js';
import { InvalidStateError } from '../../../lib/errors.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
let db: Db;
beforeEach(() => {
  dir = makeTmpDir();
  db = openDb({ name: 'state', path: path.join(dir, 's.sqlite3'), create: true });
  db.conn.exec('CREATE TABLE t (v INTEGER)');
});
afterEach(() => {
  db.close();
  removeTmpDir(dir);
});

it('refuses a write inside a read on the same connection, and leaves the connection usable', () => {
  expect(() => db.read(() => db.write((c) => c.exec('INSERT INTO t VALUES (1)')))).toThrow(InvalidStateError);
  expect(db.conn.inTransaction).toBe(false);
  db.write((c) => c.exec('INSERT INTO t VALUES (2)'));
  expect(db.read((c) => c.prepare('SELECT v FROM t').all())).toEqual([{ v: 2 }]);
});

it('allows a write nested in a write (a savepoint) and rolls back both on error', () => {
  db.write((c) => {
    c.exec('INSERT INTO t VALUES (1)');
    db.write((c2) => c2.exec('INSERT INTO t VALUES (2)'));
  });
  expect(() =>
    db.write((c) => {
      c.exec('INSERT INTO t VALUES (3)');
      db.write((c2) => c2.exec('INSERT INTO t VALUES (4)'));
      throw new Error('abort');
    }),
  ).toThrow('abort');
  expect(db.read((c) => c.prepare('SELECT v FROM t ORDER BY v').all())).toEqual([{ v: 1 }, { v: 2 }]);
});
