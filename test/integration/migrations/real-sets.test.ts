// The shipped sets (migrations/state, migrations/pipeline) through the CLI with a real config file: up on
// both, verify against the committed snapshots, down to 0 and up again; the CI drift check; --json shapes;
// the daemon start-up check; the test helper that hands out migrated databases.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { freshDatabases } from '../../helpers/db.js';
import { openDb } from '../../../lib/db/index.js';
import { SchemaVersionError } from '../../../lib/errors.js';
import {
  assertSchema,
  dumpSchema,
  headVersion,
  readCommittedSnapshot,
  userTables,
} from '../../../lib/migrations/index.js';
import { runCli } from './cli.js';

let tmp: string;
let config: string;
beforeEach(() => {
  tmp = makeTmpDir();
  config = path.join(tmp, 'contimg.yaml');
  fs.writeFileSync(
    config,
    'dataDir: ./data\ndatabases:\n  state: ./data/contimg.sqlite3\n  pipeline: ./data/pipeline.sqlite3\n',
  );
});
afterEach(() => removeTmpDir(tmp));

const schemaOf = (file: string): string => {
  const conn = new Database(file, { readonly: true });
  try {
    return dumpSchema(conn);
  } finally {
    conn.close();
  }
};

describe('the shipped migration sets', () => {
  it('up (both), verify, down to 0, up again: identical schemas equal to the committed snapshots', async () => {
    const up = await runCli(['migrate', 'up', '--config', config, '--json']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const results = JSON.parse(up.stdout) as Record<string, unknown>[];
    expect(results.map((r) => r.set)).toEqual(['state', 'pipeline']);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual([
        'applied',
        'backup',
        'dryRun',
        'from',
        'path',
        'reverted',
        'set',
        'to',
      ]);
    }
    const statePath = path.join(tmp, 'data', 'contimg.sqlite3');
    const pipelinePath = path.join(tmp, 'data', 'pipeline.sqlite3');
    expect(results[0]).toMatchObject({ path: statePath, from: 0, to: headVersion('state'), backup: null });
    expect(results[1]).toMatchObject({ path: pipelinePath, from: 0, to: headVersion('pipeline') });
    expect(schemaOf(statePath)).toBe(readCommittedSnapshot('state'));
    expect(schemaOf(pipelinePath)).toBe(readCommittedSnapshot('pipeline'));

    const verify = await runCli(['migrate', 'verify', '--config', config, '--json']);
    expect(verify.code).toBe(0);
    const reports = JSON.parse(verify.stdout) as Record<string, unknown>[];
    expect(reports.map((r) => [r.set, r.ok, r.exitCode, r.integrity, r.foreignKeys, r.snapshot])).toEqual([
      ['state', true, 0, ['ok'], [], null],
      ['pipeline', true, 0, ['ok'], [], null],
    ]);

    const pipelineSnapshot = schemaOf(pipelinePath);
    for (const set of ['state', 'pipeline']) {
      const down = await runCli([
        'migrate',
        'down',
        '--db',
        set,
        '--to',
        '0',
        '--yes',
        '--config',
        config,
        '--json',
      ]);
      expect(down.code).toBe(0);
      expect(JSON.parse(down.stdout).to).toBe(0);
    }
    for (const file of [statePath, pipelinePath]) {
      const conn = new Database(file, { readonly: true });
      expect(userTables(conn)).toEqual([]);
      expect(
        conn
          .prepare(
            `SELECT name FROM sqlite_master WHERE type IN ('index', 'view', 'trigger') AND name NOT LIKE 'sqlite_%'`,
          )
          .all(),
      ).toEqual([]);
      conn.close();
    }

    expect((await runCli(['migrate', 'up', '--config', config])).code).toBe(0);
    expect(schemaOf(statePath)).toBe(readCommittedSnapshot('state'));
    expect(schemaOf(pipelinePath)).toBe(pipelineSnapshot);
    // Every up here started from an empty database (only the ledger after down to 0): nothing to back up.
    expect(fs.existsSync(path.join(tmp, 'data', 'backups'))).toBe(false);
  });

  it('status --json lists applied and pending steps with checksum states', async () => {
    const db = path.join(tmp, 'p.sqlite3');
    expect((await runCli(['migrate', 'up', '--db', 'state', '--to', '1', '--path', db])).code).toBe(0);
    const r = await runCli(['migrate', 'status', '--db', 'state', '--path', db, '--json']);
    expect(r.code).toBe(0);
    const [s] = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(s).toMatchObject({
      set: 'state',
      version: 1,
      userVersion: 1,
      head: headVersion('state'),
      drift: false,
    });
    expect(s.applied).toEqual([
      expect.objectContaining({
        version: 1,
        name: 'platform',
        checksum: 'ok',
        appliedAt: expect.any(Number),
        durationMs: expect.any(Number),
      }),
    ]);
    expect((s.pending as { version: number }[]).map((p) => p.version)).toEqual(
      Array.from({ length: headVersion('state') - 1 }, (_, i) => i + 2),
    );
    const dry = await runCli(['migrate', 'up', '--db', 'state', '--dry-run', '--path', db, '--json']);
    expect(dry.code).toBe(0);
    const [plan] = JSON.parse(dry.stdout) as { dryRun: boolean; applied: { version: number }[] }[];
    expect(plan.dryRun).toBe(true);
    expect(plan.applied.map((a) => a.version)).toEqual(
      (s.pending as { version: number }[]).map((p) => p.version),
    );
    const after = JSON.parse(
      (await runCli(['migrate', 'status', '--db', 'state', '--path', db, '--json'])).stdout,
    );
    expect(after[0]).toMatchObject({ version: 1, userVersion: 1 });
    // verify on a database behind head is a failure (exit 1), not drift.
    const v = await runCli(['migrate', 'verify', '--db', 'state', '--path', db]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('pending migration');
  });

  it('a second up on a non-empty database takes a backup into <dataDir>/backups first', async () => {
    expect((await runCli(['migrate', 'up', '--db', 'pipeline', '--config', config])).code).toBe(0);
    const conn = new Database(path.join(tmp, 'data', 'pipeline.sqlite3'));
    conn.pragma('user_version = 0');
    conn.exec(
      'DELETE FROM schema_migrations; DROP TABLE calibration_monitoring; DROP TABLE caltables; DROP TABLE images;',
    );
    conn.exec('CREATE TABLE keep_me (x); INSERT INTO keep_me VALUES (42);');
    conn.close();
    const r = await runCli(['migrate', 'up', '--db', 'pipeline', '--config', config, '--json']);
    expect(r.code).toBe(0);
    const [res] = JSON.parse(r.stdout) as { backup: string }[];
    expect(path.dirname(res.backup)).toBe(path.join(tmp, 'data', 'backups'));
    expect(path.basename(res.backup)).toMatch(/^pipeline-0000-\d{8}T\d{6}Z\.sqlite3$/);
    const copy = new Database(res.backup, { readonly: true });
    expect(copy.prepare('SELECT x FROM keep_me').all()).toEqual([{ x: 42 }]);
    copy.close();
  });

  it('verify --snapshot-only passes on the committed files and exits 3 when a snapshot is stale', async () => {
    const ok = await runCli(['migrate', 'verify', '--snapshot-only']);
    expect(ok.stdout).toContain('state: snapshot ok');
    expect(ok.code).toBe(0);
    const root = path.join(tmp, 'migrations');
    fs.cpSync(path.resolve('migrations'), root, { recursive: true });
    fs.appendFileSync(path.join(root, 'pipeline', '0001_contract.up.sql'), 'CREATE TABLE extra (x);\n');
    const drift = await runCli(['migrate', 'verify', '--snapshot-only', '--dir', root, '--json']);
    expect(drift.code).toBe(3);
    const res = JSON.parse(drift.stdout) as { set: string; drift: boolean; unexpected: string[] }[];
    expect(res.map((r) => [r.set, r.drift])).toEqual([
      ['state', false],
      ['pipeline', true],
    ]);
    expect(res[1].unexpected).toContain('CREATE TABLE extra(x);');
    expect((await runCli(['migrate', 'snapshot', '--db', 'pipeline', '--dir', root])).code).toBe(0);
    expect((await runCli(['migrate', 'verify', '--snapshot-only', '--dir', root])).code).toBe(0);
  });

  it('usage and config errors: exit 2 and 78', async () => {
    expect((await runCli(['migrate', 'up', '--db', 'nope', '--path', 'x.sqlite3'])).code).toBe(2);
    expect((await runCli(['migrate', 'up', '--path', path.join(tmp, 'x.sqlite3')])).code).toBe(2);
    expect((await runCli(['migrate', 'down', '--db', 'state', '--config', config])).code).toBe(2);
    expect((await runCli(['migrate', 'down', '--config', config, '--yes'])).code).toBe(2);
    const noConfig = await runCli(['migrate', 'status']);
    expect(noConfig.code).toBe(78);
    expect(noConfig.stderr).toContain('--config');
  });

  it('exits 4 when another runner holds the lock past --lock-wait-ms, and takes over an expired lock', async () => {
    const db = path.join(tmp, 'l.sqlite3');
    expect((await runCli(['migrate', 'up', '--db', 'pipeline', '--path', db])).code).toBe(0);
    const conn = new Database(db);
    conn
      .prepare('UPDATE schema_migrations_lock SET owner = ?, expires_at = ?')
      .run('someone-else', Date.now() + 600_000);
    const busy = await runCli(['migrate', 'up', '--db', 'pipeline', '--path', db, '--lock-wait-ms', '300']);
    expect(busy.code).toBe(4);
    expect(busy.stderr).toContain('holds the lock');
    conn.prepare('UPDATE schema_migrations_lock SET expires_at = ?').run(Date.now() - 1);
    conn.close();
    expect(
      (await runCli(['migrate', 'up', '--db', 'pipeline', '--path', db, '--lock-wait-ms', '300'])).code,
    ).toBe(0);
  });
});

describe('assertSchema and freshDatabases', () => {
  it('hands out migrated databases that pass the start-up check', async () => {
    const { statePath, pipelinePath } = await freshDatabases(path.join(tmp, 'fresh'));
    const state = openDb({ name: 'state', path: statePath });
    const pipeline = openDb({ name: 'pipeline', path: pipelinePath, readonly: true });
    expect(() => assertSchema(state, 'state')).not.toThrow();
    expect(() => assertSchema(pipeline, 'pipeline')).not.toThrow();
    expect(state.userVersion()).toBe(headVersion('state'));
    pipeline.close();

    state.conn.pragma(`user_version = ${headVersion('state') - 1}`);
    expect(() => assertSchema(state, 'state')).toThrow(SchemaVersionError);
    expect(() => assertSchema(state, 'state')).toThrow(/run `contimg migrate up --db state`/);
    state.conn.pragma(`user_version = ${headVersion('state') + 1}`);
    try {
      assertSchema(state, 'state');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SchemaVersionError);
      expect((e as SchemaVersionError).details).toEqual({
        db: 'state',
        expected: headVersion('state'),
        actual: headVersion('state') + 1,
      });
      expect((e as Error).message).toContain('refusing to start');
    }
    state.close();
  });
});
