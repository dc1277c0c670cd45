// Helpers for the migration tests (fixture sets, /proc checks, read-only access); the CLI runner itself
// lives in test/helpers/cli.ts and is re-exported here.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { REPO_ROOT } from '../../helpers/tmp.js';

export { runCli, spawnCli, type CliResult } from '../../helpers/cli.js';

export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'migrations');

/** True when process pid has file open (Linux /proc): the child has reached the database. */
export function hasOpen(pid: number, file: string): boolean {
  const dir = `/proc/${pid}/fd`;
  for (const fd of fs.readdirSync(dir)) {
    try {
      if (fs.readlinkSync(path.join(dir, fd)) === file) return true;
    } catch {
      /* the descriptor closed while we looked */
    }
  }
  return false;
}

/** Copy a fixture migrations root into dir (so a test can edit files without touching the committed ones). */
export function copyFixture(name: string, dir: string): string {
  const dest = path.join(dir, 'migrations');
  fs.cpSync(path.join(FIXTURES, name), dest, { recursive: true });
  return dest;
}

/** Run fn on a read-only connection to file, closing it afterwards. */
export function withReadonly<T>(file: string, fn: (conn: Database.Database) => T): T {
  const conn = new Database(file, { readonly: true });
  try {
    return fn(conn);
  } finally {
    conn.close();
  }
}

/** `contimg migrate up --db state --path db --dir <fixture> --json`. */
export function upStateArgs(db: string, fixture: string): string[] {
  return ['migrate', 'up', '--db', 'state', '--path', db, '--dir', path.join(FIXTURES, fixture), '--json'];
}
