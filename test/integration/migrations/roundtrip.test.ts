// Up → down to 0 → up on a fixture set that uses every directive, with identical
// snapshots and fixture rows surviving the reversible steps.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { dumpSchema, readCommittedSnapshot, userTables } from '../../../lib/migrations/index.js';
import { FIXTURES, runCli, withReadonly } from './cli.js';

const DIR = path.join(FIXTURES, 'roundtrip');

function inspect(file: string): { snapshot: string; userVersion: number; tables: string[] } {
  return withReadonly(file, (conn) => ({
    snapshot: dumpSchema(conn),
    userVersion: conn.pragma('user_version', { simple: true }) as number,
    tables: userTables(conn),
  }));
}

describe('migration round trip', () => {
  let tmp: string;
  let db: string;
  beforeEach(() => {
    tmp = makeTmpDir();
    db = path.join(tmp, 'rt.sqlite3');
  });
  afterEach(() => removeTmpDir(tmp));

  const cli = (...args: string[]) =>
    runCli(['migrate', ...args, '--db', 'state', '--path', db, '--dir', DIR]);

  it('up, down to 0 and up again give identical snapshots equal to the committed one', async () => {
    expect((await cli('up')).code).toBe(0);
    const first = inspect(db);
    expect(first.userVersion).toBe(5);
    expect(first.snapshot).toBe(readCommittedSnapshot('state', DIR));

    const down = await cli('down', '--to', '0', '--yes');
    expect(down.code).toBe(0);
    const empty = inspect(db);
    expect(empty.tables).toEqual([]);
    expect(empty.userVersion).toBe(0);

    expect((await cli('up')).code).toBe(0);
    expect(inspect(db).snapshot).toBe(first.snapshot);
    expect((await cli('verify')).code).toBe(0);
  });

  it('fixture rows survive every reversible step in both directions', async () => {
    expect((await cli('up', '--to', '1')).code).toBe(0);
    const conn = new Database(db);
    conn.exec(`INSERT INTO sites (id, name) VALUES (1, 'ovro'), (2, 'gbt');
               INSERT INTO readings (id, site_id, value) VALUES (10, 1, 1.5), (11, 1, 2.5), (12, 2, 3.5);`);
    conn.close();

    expect((await cli('up')).code).toBe(0);
    const after = new Database(db, { readonly: true });
    expect(after.prepare('SELECT id, site_id, value, unit FROM readings ORDER BY id').all()).toEqual([
      { id: 10, site_id: 1, value: 1.5, unit: 'Jy' },
      { id: 11, site_id: 1, value: 2.5, unit: 'Jy' },
      { id: 12, site_id: 2, value: 3.5, unit: 'Jy' },
    ]);
    expect(after.prepare('SELECT site_id, n FROM site_counts ORDER BY site_id').all()).toEqual([
      { site_id: 1, n: 2 },
      { site_id: 2, n: 1 },
    ]);
    after.close();

    // Back to 1: the rebuild's down runs with foreign keys off, so DROP TABLE sites cascades nothing.
    expect((await cli('down', '--to', '1', '--yes')).code).toBe(0);
    const back = new Database(db, { readonly: true });
    expect(back.prepare('SELECT id, name FROM sites ORDER BY id').all()).toEqual([
      { id: 1, name: 'ovro' },
      { id: 2, name: 'gbt' },
    ]);
    expect(back.prepare('SELECT id, site_id, value FROM readings ORDER BY id').all()).toEqual([
      { id: 10, site_id: 1, value: 1.5 },
      { id: 11, site_id: 1, value: 2.5 },
      { id: 12, site_id: 2, value: 3.5 },
    ]);
    expect(back.pragma('foreign_key_check')).toEqual([]);
    expect(back.pragma('user_version', { simple: true })).toBe(1);
    back.close();
  });

  it('down defaults to one step and --steps counts back from the current version', async () => {
    expect((await cli('up')).code).toBe(0);
    expect((await cli('down', '--yes')).code).toBe(0);
    expect(inspect(db).userVersion).toBe(4);
    expect((await cli('down', '--steps', '2', '--yes')).code).toBe(0);
    const s = inspect(db);
    expect(s.userVersion).toBe(2);
    expect(s.tables).toEqual(['readings', 'sites']);
    expect(fs.existsSync(db)).toBe(true);
  });
});
