// The migration folder rules (numbering, pairs, directives) and the directives' behaviour at run time.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import {
  headVersion,
  loadMigrations,
  migrateDown,
  migrateUp,
  MigrationFileError,
} from '../../../lib/migrations/index.js';
import { runCli } from './cli.js';

let tmp: string;
beforeEach(() => {
  tmp = makeTmpDir();
});
afterEach(() => removeTmpDir(tmp));

/** Write files into <tmp>/m/state and return the migrations root. */
function folder(files: Record<string, string>): string {
  const dir = path.join(tmp, 'm', 'state');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return path.join(tmp, 'm');
}

const pair = (n: string, slug: string, up = 'SELECT 1;', down = 'SELECT 1;') => ({
  [`${n}_${slug}.up.sql`]: up,
  [`${n}_${slug}.down.sql`]: down,
});

describe('folder rules', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a gap', { ...pair('0001', 'a'), ...pair('0003', 'c') }, /without gaps; found 0003 after 0001/],
    ['not starting at 0001', pair('0002', 'b'), /found 0002 after 0000/],
    [
      'a duplicate number',
      { ...pair('0001', 'a'), '0001_b.up.sql': 'SELECT 1;' },
      /two up files numbered 0001/,
    ],
    ['a bad name', { ...pair('0001', 'a'), '0002_Bad-Name.up.sql': 'SELECT 1;' }, /NNNN_slug\.up\.sql/],
    ['a missing down file', { '0001_a.up.sql': 'SELECT 1;' }, /has no down file/],
    [
      'a down file without up',
      { ...pair('0001', 'a'), '0002_b.down.sql': 'SELECT 1;' },
      /down file without an up file/,
    ],
    [
      'mismatched slugs',
      { '0001_a.up.sql': 'SELECT 1;', '0001_b.down.sql': 'SELECT 1;' },
      /must share their slug/,
    ],
    [
      'irreversible with a down file',
      pair('0001', 'a', '-- contimg:irreversible\nSELECT 1;'),
      /irreversible but has a down file/,
    ],
    [
      'an unknown directive',
      pair('0001', 'a', '-- contimg:fast\nSELECT 1;'),
      /unknown directive "contimg:fast"/,
    ],
    [
      'no-transaction mixed with DDL',
      pair('0001', 'a', '-- contimg:no-transaction\nCREATE TABLE t (x);'),
      /may not mix in DDL/,
    ],
  ];
  for (const [label, files, message] of cases) {
    it(`rejects ${label}`, () => {
      const root = folder(files);
      expect(() => loadMigrations('state', root)).toThrow(MigrationFileError);
      expect(() => loadMigrations('state', root)).toThrow(message);
    });
  }

  it('accepts a clean folder and reports its head, ignoring the snapshot file', () => {
    const root = folder({ ...pair('0001', 'a'), ...pair('0002', 'b_c'), 'schema.snapshot.sql': '' });
    expect(loadMigrations('state', root).map((f) => [f.version, f.name])).toEqual([
      [1, 'a'],
      [2, 'b_c'],
    ]);
    expect(headVersion('state', root)).toBe(2);
  });

  it('the CLI exits 1 with the rule broken on a gap', async () => {
    const root = folder({ ...pair('0001', 'a'), ...pair('0003', 'c') });
    const r = await runCli([
      'migrate',
      'up',
      '--db',
      'state',
      '--path',
      path.join(tmp, 'x.sqlite3'),
      '--dir',
      root,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('without gaps');
  });
});

describe('directives at run time', () => {
  it('irreversible: up applies, down refuses to pass it and changes nothing', async () => {
    const root = folder({
      ...pair('0001', 'a', 'CREATE TABLE a (x);', 'DROP TABLE a;'),
      '0002_b.up.sql': '-- contimg:irreversible\nCREATE TABLE b (x);',
      ...pair('0003', 'c', 'CREATE TABLE c (x);', 'DROP TABLE c;'),
    });
    const db = path.join(tmp, 'd.sqlite3');
    await migrateUp({ path: db, set: 'state', dir: root, backup: false });
    await expect(migrateDown({ path: db, set: 'state', dir: root, to: 0 })).rejects.toThrow(
      /0002_b is irreversible/,
    );
    const conn = new Database(db, { readonly: true });
    expect(conn.pragma('user_version', { simple: true })).toBe(3);
    conn.close();
    // Reverting only the steps above it is allowed.
    await migrateDown({ path: db, set: 'state', dir: root, to: 2 });
    const r = await runCli([
      'migrate',
      'down',
      '--to',
      '0',
      '--yes',
      '--db',
      'state',
      '--path',
      db,
      '--dir',
      root,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('irreversible');
  });

  it('foreign_keys=off: a rebuild that leaves a dangling reference fails the check and rolls back', async () => {
    const root = folder({
      ...pair(
        '0001',
        'a',
        'CREATE TABLE p (id INTEGER PRIMARY KEY);\nCREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p (id));',
        'DROP TABLE c; DROP TABLE p;',
      ),
      ...pair(
        '0002',
        'rebuild',
        '-- contimg:foreign_keys=off\nCREATE TABLE p_new (id INTEGER PRIMARY KEY);\nDROP TABLE p;\nALTER TABLE p_new RENAME TO p;',
        'SELECT 1;',
      ),
    });
    const db = path.join(tmp, 'd.sqlite3');
    await migrateUp({ path: db, set: 'state', dir: root, to: 1, backup: false });
    const conn = new Database(db);
    conn.exec('INSERT INTO p (id) VALUES (1); INSERT INTO c (id, p) VALUES (1, 1);');
    conn.close();
    await expect(migrateUp({ path: db, set: 'state', dir: root, backup: false })).rejects.toThrow(
      /foreign_key_check found 1 violation/,
    );
    const after = new Database(db, { readonly: true });
    expect(after.prepare('SELECT id FROM p').all()).toEqual([{ id: 1 }]);
    expect(after.pragma('user_version', { simple: true })).toBe(1);
    after.close();
  });

  it('no-transaction: VACUUM runs and its ledger row is written', async () => {
    const root = folder({
      ...pair('0001', 'a', 'CREATE TABLE a (x);', 'DROP TABLE a;'),
      ...pair('0002', 'vacuum', '-- contimg:no-transaction\nVACUUM;', 'SELECT 1;'),
    });
    const db = path.join(tmp, 'd.sqlite3');
    const r = await migrateUp({ path: db, set: 'state', dir: root, backup: false });
    expect(r.applied.map((s) => s.version)).toEqual([1, 2]);
    const conn = new Database(db, { readonly: true });
    expect(conn.prepare('SELECT version FROM schema_migrations').all()).toEqual([
      { version: 1 },
      { version: 2 },
    ]);
    conn.close();
  });
});

describe('contimg migrate new', () => {
  it('creates the next numbered pair, which then loads and applies', async () => {
    const root = folder(pair('0001', 'a', 'CREATE TABLE a (x);', 'DROP TABLE a;'));
    const r = await runCli(['migrate', 'new', 'add_widgets', '--db', 'state', '--dir', root, '--json']);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout) as { up: string; down: string };
    expect(path.basename(created.up)).toBe('0002_add_widgets.up.sql');
    expect(path.basename(created.down)).toBe('0002_add_widgets.down.sql');
    expect(headVersion('state', root)).toBe(2);
    const res = await migrateUp({
      path: path.join(tmp, 'n.sqlite3'),
      set: 'state',
      dir: root,
      backup: false,
    });
    expect(res.to).toBe(2);
  });

  it('rejects a bad slug (exit 1) and a missing --db (exit 2)', async () => {
    const root = folder(pair('0001', 'a'));
    expect((await runCli(['migrate', 'new', 'Bad-Slug', '--db', 'state', '--dir', root])).code).toBe(1);
    expect((await runCli(['migrate', 'new', 'ok_slug', '--dir', root])).code).toBe(2);
    expect(headVersion('state', root)).toBe(1);
  });
});
