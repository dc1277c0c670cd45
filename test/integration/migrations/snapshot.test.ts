// The snapshot normaliser: formatting and comments do not matter, quoted text and real differences do.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { diffSnapshots, dumpSchema, normaliseSql } from '../../../lib/migrations/index.js';

describe('normaliseSql', () => {
  it('drops comments and collapses whitespace around punctuation', () => {
    const a = `CREATE TABLE t (\n  a INTEGER NOT NULL, -- the key\n  b TEXT /* note */ DEFAULT 'x'\n)`;
    const b = "CREATE TABLE t(a INTEGER NOT NULL,b TEXT DEFAULT 'x')";
    expect(normaliseSql(a)).toBe(b);
  });

  it('leaves quoted text alone, including comment markers and doubled quotes', () => {
    const sql = `CREATE TABLE "odd  name" (a TEXT DEFAULT 'it''s -- not   a comment', [b  c] INTEGER)`;
    expect(normaliseSql(sql)).toBe(
      `CREATE TABLE "odd  name"(a TEXT DEFAULT 'it''s -- not   a comment',[b  c] INTEGER)`,
    );
  });
});

describe('dumpSchema and diffSnapshots', () => {
  const build = (ddl: string): string => {
    const conn = new Database(':memory:');
    conn.exec(ddl);
    conn.pragma('user_version = 2');
    const text = dumpSchema(conn);
    conn.close();
    return text;
  };

  it('gives the same text for differently formatted but equal schemas, in a fixed order', () => {
    const x = build(
      'CREATE TABLE b (id INTEGER);\nCREATE INDEX b_id ON b (id);\nCREATE TABLE a (id INTEGER);',
    );
    const y = build(
      'create table a(id INTEGER);  CREATE TABLE b ( id INTEGER ) ;CREATE INDEX b_id ON b(id) -- x',
    );
    expect(x.split('\n').slice(1)).toEqual([
      'PRAGMA user_version = 2;',
      'CREATE TABLE a(id INTEGER);',
      'CREATE TABLE b(id INTEGER);',
      'CREATE INDEX b_id ON b(id);',
      '',
    ]);
    expect(y).toBe(x);
  });

  it('reports a changed column as one missing and one unexpected line', () => {
    const x = build('CREATE TABLE a (id INTEGER, v TEXT);');
    const y = build('CREATE TABLE a (id INTEGER, v REAL);');
    expect(diffSnapshots(x, y)).toEqual({
      missing: ['CREATE TABLE a(id INTEGER,v TEXT);'],
      unexpected: ['CREATE TABLE a(id INTEGER,v REAL);'],
    });
    expect(diffSnapshots(x, x)).toEqual({ missing: [], unexpected: [] });
  });
});
