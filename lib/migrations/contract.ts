// The structural contract of a set: for every table at head, its columns and declared types. Used for a
// database this project does not own (the imaging pipeline's production pipeline.sqlite3, built by the
// pipeline's own schema.sql, with no ledger of ours): it passes when every contract table has at least the
// contract's columns with the same declared types. Extra tables, columns and indexes are the pipeline's own.
import Database from 'better-sqlite3';
import type { Connection } from '../db/index.js';
import { loadMigrations, type MigrationSet } from './files.js';
import { LEDGER_TABLES } from './snapshot.js';

type Columns = Map<string, string>;

function tableColumns(conn: Connection, table: string): Columns {
  const rows = conn.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(table) as {
    name: string;
    type: string;
  }[];
  return new Map(rows.map((r) => [r.name, r.type.toUpperCase()]));
}

const cache = new Map<string, Map<string, Columns>>();

/** The head schema's tables and columns, from migrating an in-memory database (cached per process). */
export function contractOf(set: MigrationSet, dir?: string): Map<string, Columns> {
  const key = `${set}\0${dir ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const conn = new Database(':memory:');
  try {
    for (const f of loadMigrations(set, dir)) conn.exec(f.up);
    const tables = conn
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      )
      .all() as { name: string }[];
    const out = new Map<string, Columns>();
    for (const { name } of tables) if (!LEDGER_TABLES.includes(name)) out.set(name, tableColumns(conn, name));
    cache.set(key, out);
    return out;
  } finally {
    conn.close();
  }
}

/** What a live database lacks against the contract: missing tables, missing columns, changed types. */
export function contractProblems(conn: Connection, set: MigrationSet, dir?: string): string[] {
  const problems: string[] = [];
  for (const [table, want] of contractOf(set, dir)) {
    const have = tableColumns(conn, table);
    if (have.size === 0) {
      problems.push(`table ${table} is missing`);
      continue;
    }
    for (const [col, type] of want) {
      const got = have.get(col);
      if (got === undefined) problems.push(`${table}.${col} is missing`);
      else if (got !== type)
        problems.push(`${table}.${col} is ${got || 'untyped'}, the contract says ${type || 'untyped'}`);
    }
  }
  return problems;
}
