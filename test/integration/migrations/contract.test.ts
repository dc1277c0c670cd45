// A pipeline.sqlite3 built by the imaging pipeline itself (its own schema.sql, extra tables and columns, no
// ledger of ours) is checked against the contract column by column: verify --db pipeline and the daemon
// start-up check accept it, and reject it when a contract column is missing.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { openDb } from '../../../lib/db/index.js';
import { SchemaVersionError } from '../../../lib/errors.js';
import { assertSchema, loadMigrations } from '../../../lib/migrations/index.js';
import { runCli } from './cli.js';

let tmp: string;
beforeEach(() => {
  tmp = makeTmpDir();
});
afterEach(() => removeTmpDir(tmp));

/** The contract's DDL with the pipeline's extras around it, optionally without one column of images. */
function foreignPipeline(file: string, dropColumn?: string): void {
  const conn = new Database(file);
  conn.pragma('journal_mode = WAL');
  conn.exec(`CREATE TABLE ms_index (path TEXT PRIMARY KEY, stage TEXT, created_at REAL);`);
  let ddl = loadMigrations('pipeline')[0].up;
  if (dropColumn) ddl = ddl.replace(new RegExp(`^\\s*${dropColumn}\\s+REAL,\\n`, 'm'), '');
  conn.exec(ddl);
  conn.exec(`ALTER TABLE images ADD COLUMN extra_pipeline_column TEXT;
             CREATE TABLE photometry (id INTEGER PRIMARY KEY, image_path TEXT);
             INSERT INTO images (path, ms_path, created_at, type) VALUES ('/stage/a.fits', '/stage/a.ms', 1.7e9, '5min');`);
  conn.pragma('user_version = 0');
  conn.close();
}

describe('pipeline contract check on a foreign file', () => {
  it('accepts a file with the contract columns plus the pipeline own extras', async () => {
    const file = path.join(tmp, 'pipeline.sqlite3');
    foreignPipeline(file);
    const r = await runCli(['migrate', 'verify', '--db', 'pipeline', '--path', file, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ mode: 'contract', ok: true, problems: [] });
    const db = openDb({ name: 'pipeline', path: file, readonly: true });
    expect(() => assertSchema(db, 'pipeline')).not.toThrow();
    db.close();
  });

  it('rejects a file missing a contract column: verify exits 3, the start-up check throws', async () => {
    const file = path.join(tmp, 'pipeline.sqlite3');
    foreignPipeline(file, 'noise_jy');
    const r = await runCli(['migrate', 'verify', '--db', 'pipeline', '--path', file]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('contract: images.noise_jy is missing');
    const db = openDb({ name: 'pipeline', path: file, readonly: true });
    expect(() => assertSchema(db, 'pipeline')).toThrow(SchemaVersionError);
    expect(() => assertSchema(db, 'pipeline')).toThrow(/images\.noise_jy is missing/);
    db.close();
  });

  it('an empty pipeline file is told to migrate, not given a list of missing tables', () => {
    const file = path.join(tmp, 'empty.sqlite3');
    new Database(file).close();
    const db = openDb({ name: 'pipeline', path: file, readonly: true });
    expect(() => assertSchema(db, 'pipeline')).toThrow(/run `contimg migrate up --db pipeline`/);
    db.close();
  });

  it('does not apply the contract shortcut to the state database', async () => {
    const file = path.join(tmp, 'state.sqlite3');
    const conn = new Database(file);
    for (const f of loadMigrations('state')) conn.exec(f.up);
    conn.close();
    const db = openDb({ name: 'state', path: file, readonly: true });
    expect(() => assertSchema(db, 'state')).toThrow(/run `contimg migrate up --db state`/);
    db.close();
  });
});
