// A second up is a no-op, an edited applied file is drift (exit 3), and two
// concurrent `contimg migrate up` processes apply each step exactly once.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { copyFixture, hasOpen, runCli, spawnCli, upStateArgs, withReadonly } from './cli.js';

function ledger(file: string): { version: number; applied_by: string }[] {
  return withReadonly(
    file,
    (conn) =>
      conn.prepare('SELECT version, applied_by FROM schema_migrations ORDER BY version').all() as {
        version: number;
        applied_by: string;
      }[],
  );
}

describe('migration idempotency and drift', () => {
  let tmp: string;
  let db: string;
  beforeEach(() => {
    tmp = makeTmpDir();
    db = path.join(tmp, 'state.sqlite3');
  });
  afterEach(() => removeTmpDir(tmp));

  it('a second up applies nothing and exits 0', async () => {
    const args = upStateArgs(db, 'roundtrip');
    const first = await runCli(args);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)[0].applied).toHaveLength(5);
    const before = ledger(db);
    const second = await runCli(args);
    expect(second.code).toBe(0);
    const r = JSON.parse(second.stdout)[0];
    expect(r.applied).toEqual([]);
    expect(r.backup).toBeNull();
    expect(ledger(db)).toEqual(before);
  });

  it('editing an applied file makes status, verify and up exit 3', async () => {
    const dir = copyFixture('roundtrip', tmp);
    const common = ['--db', 'state', '--path', db, '--dir', dir];
    expect((await runCli(['migrate', 'up', ...common])).code).toBe(0);
    expect((await runCli(['migrate', 'status', ...common])).code).toBe(0);
    expect((await runCli(['migrate', 'verify', ...common])).code).toBe(0);

    const file = path.join(dir, 'state', '0002_units.up.sql');
    fs.appendFileSync(file, '-- edited after it was applied\n');

    const status = await runCli(['migrate', 'status', ...common, '--json']);
    expect(status.code).toBe(3);
    const report = JSON.parse(status.stdout)[0];
    expect(report.drift).toBe(true);
    expect(report.applied.find((a: { version: number }) => a.version === 2).checksum).toBe('modified');
    expect(report.applied.find((a: { version: number }) => a.version === 1).checksum).toBe('ok');

    const verify = await runCli(['migrate', 'verify', ...common]);
    expect(verify.code).toBe(3);
    expect(verify.stdout).toContain('0002_units: modified');

    const up = await runCli(['migrate', 'up', ...common]);
    expect(up.code).toBe(3);
    expect(up.stderr).toContain('0002_units (modified)');
  });

  it('a deleted applied file is reported as missing (exit 3)', async () => {
    const dir = copyFixture('roundtrip', tmp);
    const common = ['--db', 'state', '--path', db, '--dir', dir];
    expect((await runCli(['migrate', 'up', ...common])).code).toBe(0);
    fs.rmSync(path.join(dir, 'state', '0005_compact.up.sql'));
    fs.rmSync(path.join(dir, 'state', '0005_compact.down.sql'));
    const status = await runCli(['migrate', 'status', ...common, '--json']);
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)[0].applied[4]).toMatchObject({ version: 5, checksum: 'missing' });
  });

  it('two concurrent up processes apply each migration exactly once and both succeed', async () => {
    // Hold the write lock until both processes have opened the database, so they really race for it.
    const hold = new Database(db);
    hold.pragma('journal_mode = WAL');
    hold.exec('BEGIN IMMEDIATE');
    const args = upStateArgs(db, 'concurrent');
    const a = spawnCli(args);
    const b = spawnCli(args);
    await waitFor(() => hasOpen(a.child.pid!, db) && hasOpen(b.child.pid!, db), {
      what: 'both runners to open the db',
    });
    hold.exec('ROLLBACK');
    hold.close();
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.stderr).toBe('');
    expect(rb.stderr).toBe('');
    expect([ra.code, rb.code]).toEqual([0, 0]);
    const applied = [JSON.parse(ra.stdout)[0].applied, JSON.parse(rb.stdout)[0].applied].flat() as {
      version: number;
    }[];
    expect(applied.map((s) => s.version).sort()).toEqual([1, 2, 3, 4]);

    const rows = ledger(db);
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4]);
    const conn = new Database(db, { readonly: true });
    for (const i of [1, 2, 3, 4])
      expect(conn.prepare(`SELECT count(*) AS n FROM step${i}`).get()).toEqual({ n: 150000 });
    expect(conn.pragma('user_version', { simple: true })).toBe(4);
    expect(conn.prepare('SELECT owner FROM schema_migrations_lock').get()).toEqual({ owner: null });
    conn.close();
  });
});
