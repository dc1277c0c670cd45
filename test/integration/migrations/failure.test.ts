// A migration that fails half-way changes nothing (ledger, schema, user_version),
// exits 1, and the backup taken before the first pending step exists and holds the previous state.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { dumpSchema } from '../../../lib/migrations/index.js';
import { FIXTURES, runCli, withReadonly } from './cli.js';

function state(file: string): { schema: string; ledger: unknown[]; userVersion: number } {
  return withReadonly(file, (conn) => ({
    schema: dumpSchema(conn),
    ledger: conn.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all(),
    userVersion: conn.pragma('user_version', { simple: true }) as number,
  }));
}

describe('failed migration', () => {
  let tmp: string;
  let db: string;
  beforeEach(() => {
    tmp = makeTmpDir();
    db = path.join(tmp, 'state.sqlite3');
  });
  afterEach(() => removeTmpDir(tmp));

  it('rolls back the whole step, exits 1 and leaves a backup', async () => {
    const common = ['--db', 'state', '--path', db, '--dir', path.join(FIXTURES, 'failing')];
    expect((await runCli(['migrate', 'up', '--to', '1', ...common])).code).toBe(0);
    const conn = new Database(db);
    conn.exec(`INSERT INTO sites (id, name) VALUES (1, 'ovro')`);
    conn.close();
    const before = state(db);
    expect(before.userVersion).toBe(1);

    const r = await runCli(['migrate', 'up', ...common]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('0002_broken.up.sql failed and was rolled back');
    expect(r.stderr).toContain('no such table: no_such_table');

    const after = state(db);
    expect(after).toEqual(before);
    expect(after.schema).not.toContain('half_done');

    const backups = fs.readdirSync(path.join(tmp, 'backups'));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^state-0001-\d{8}T\d{6}Z\.sqlite3$/);
    const copy = new Database(path.join(tmp, 'backups', backups[0]), { readonly: true });
    expect(copy.prepare('SELECT id, name FROM sites').all()).toEqual([{ id: 1, name: 'ovro' }]);
    expect(copy.pragma('user_version', { simple: true })).toBe(1);
    copy.close();

    // The lock was released: a later run is not blocked (it fails on the same step again, exit 1, not 4).
    expect((await runCli(['migrate', 'up', '--no-backup', ...common])).code).toBe(1);
    expect(fs.readdirSync(path.join(tmp, 'backups'))).toHaveLength(1);
  });
});
