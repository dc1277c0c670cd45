// Read-only inspection: status (ledger vs files), verify (checksums, integrity, foreign keys, snapshot) and
// the snapshot itself (built by migrating a temporary database from the files).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type Connection } from '../db/index.js';
import { loadMigrations, pad, setDir, SNAPSHOT_FILE, type MigrationSet } from './files.js';
import { hasLedger, readLedger } from './ledger.js';
import { contractProblems } from './contract.js';
import { findDrift, migrateUp } from './runner.js';
import { diffSnapshots, dumpSchema, userTables } from './snapshot.js';

export interface StatusReport {
  set: MigrationSet;
  path: string;
  userVersion: number;
  version: number;
  head: number;
  applied: {
    version: number;
    name: string;
    appliedAt: number;
    durationMs: number;
    appliedBy: string;
    checksum: 'ok' | 'modified' | 'missing';
  }[];
  pending: { version: number; name: string }[];
  drift: boolean;
}

/** Ledger against files, without writing anything (a missing ledger reads as version 0). */
export function status(opts: { path: string; set: MigrationSet; dir?: string }): StatusReport {
  const files = loadMigrations(opts.set, opts.dir);
  if (!fs.existsSync(opts.path)) throw new Error(`${opts.set}: database file not found: ${opts.path}`);
  const db = openDb({ name: opts.set, path: opts.path, readonly: true });
  try {
    const ledger = readLedger(db.conn);
    const drift = new Map(findDrift(files, ledger).map((d) => [d.version, d.state]));
    const version = ledger.length === 0 ? 0 : ledger[ledger.length - 1].version;
    return {
      set: opts.set,
      path: db.path,
      userVersion: db.userVersion(),
      version,
      head: files.length,
      applied: ledger.map((r) => ({
        version: r.version,
        name: r.name,
        appliedAt: r.applied_at,
        durationMs: r.duration_ms,
        appliedBy: r.applied_by,
        checksum: drift.get(r.version) ?? 'ok',
      })),
      pending: files.filter((f) => f.version > version).map((f) => ({ version: f.version, name: f.name })),
      drift: drift.size > 0,
    };
  } finally {
    db.close();
  }
}

export interface SnapshotDrift {
  missing: string[];
  unexpected: string[];
}

export interface VerifyReport {
  set: MigrationSet;
  path: string;
  /** ledger: a database migrated by us; contract: a foreign file (no ledger) checked column by column. */
  mode: 'ledger' | 'contract';
  ok: boolean;
  /** 3 for drift (checksums or snapshot), 1 for other failures, 0 when all checks pass. */
  exitCode: 0 | 1 | 3;
  checksums: { version: number; name: string; state: 'modified' | 'missing' }[];
  integrity: string[];
  foreignKeys: unknown[];
  pending: number[];
  snapshot: SnapshotDrift | null;
  problems: string[];
}

/** checksums, integrity_check, foreign_key_check, and the live schema against the committed snapshot. */
export function verify(opts: { path: string; set: MigrationSet; dir?: string }): VerifyReport {
  const st = status(opts);
  const db = openDb({ name: opts.set, path: opts.path, readonly: true });
  try {
    if (!hasLedger(db.conn) && userTables(db.conn).length > 0) return verifyContract(db.conn, db.path, opts);
    const integrity = (db.conn.pragma('integrity_check') as { integrity_check: string }[]).map(
      (r) => r.integrity_check,
    );
    const foreignKeys = db.conn.pragma('foreign_key_check') as unknown[];
    const checksums = st.applied
      .filter((a) => a.checksum !== 'ok')
      .map((a) => ({ version: a.version, name: a.name, state: a.checksum as 'modified' | 'missing' }));
    const problems: string[] = [];
    for (const c of checksums) problems.push(`${pad(c.version)}_${c.name}: ${c.state} since it was applied`);
    if (!(integrity.length === 1 && integrity[0] === 'ok'))
      problems.push(`integrity_check: ${integrity.slice(0, 5).join('; ')}`);
    if (foreignKeys.length > 0) problems.push(`foreign_key_check: ${foreignKeys.length} violation(s)`);
    if (st.userVersion !== st.version)
      problems.push(`user_version ${st.userVersion} does not match the ledger's ${st.version}`);
    let snapshot: SnapshotDrift | null = null;
    if (st.pending.length > 0) {
      problems.push(
        `${st.pending.length} pending migration(s) (at ${st.version}, head ${st.head}): run contimg migrate up --db ${opts.set}`,
      );
    } else if (checksums.length === 0) {
      const d = diffSnapshots(readCommittedSnapshot(opts.set, opts.dir), dumpSchema(db.conn));
      if (d.missing.length + d.unexpected.length > 0) {
        snapshot = d;
        problems.push(
          `schema differs from ${opts.set}/${SNAPSHOT_FILE}: ${d.missing.length} missing, ${d.unexpected.length} unexpected`,
        );
      }
    }
    const drift = checksums.length > 0 || snapshot !== null;
    const exitCode = drift ? 3 : problems.length > 0 ? 1 : 0;
    return {
      set: opts.set,
      path: db.path,
      mode: 'ledger',
      ok: exitCode === 0,
      exitCode,
      checksums,
      integrity,
      foreignKeys,
      pending: st.pending.map((p) => p.version),
      snapshot,
      problems,
    };
  } finally {
    db.close();
  }
}

/** A foreign file (no ledger of ours, e.g. production pipeline.sqlite3): integrity, FKs and the contract. */
function verifyContract(
  conn: Connection,
  file: string,
  opts: { set: MigrationSet; dir?: string },
): VerifyReport {
  const integrity = (conn.pragma('integrity_check') as { integrity_check: string }[]).map(
    (r) => r.integrity_check,
  );
  const foreignKeys = conn.pragma('foreign_key_check') as unknown[];
  const contract = contractProblems(conn, opts.set, opts.dir);
  const problems = contract.map((p) => `contract: ${p}`);
  if (!(integrity.length === 1 && integrity[0] === 'ok'))
    problems.push(`integrity_check: ${integrity.slice(0, 5).join('; ')}`);
  if (foreignKeys.length > 0) problems.push(`foreign_key_check: ${foreignKeys.length} violation(s)`);
  const exitCode = contract.length > 0 ? 3 : problems.length > 0 ? 1 : 0;
  const snapshot = contract.length > 0 ? { missing: contract, unexpected: [] } : null;
  return {
    set: opts.set,
    path: file,
    mode: 'contract',
    ok: exitCode === 0,
    exitCode,
    checksums: [],
    integrity,
    foreignKeys,
    pending: [],
    snapshot,
    problems,
  };
}

export function readCommittedSnapshot(set: MigrationSet, dir?: string): string {
  const file = path.join(setDir(set, dir), SNAPSHOT_FILE);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** Migrate a temporary database from the files and return its snapshot text. */
export async function snapshotFromFiles(set: MigrationSet, dir?: string): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `contimg-snapshot-${set}-`));
  try {
    const dbPath = path.join(tmp, `${set}.sqlite3`);
    await migrateUp({ path: dbPath, set, dir, backup: false });
    const db = openDb({ name: set, path: dbPath, readonly: true });
    try {
      return dumpSchema(db.conn);
    } finally {
      db.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Regenerate migrations/<set>/schema.snapshot.sql; returns the path and whether it changed. */
export async function writeSnapshot(
  set: MigrationSet,
  dir?: string,
): Promise<{ file: string; changed: boolean }> {
  const text = await snapshotFromFiles(set, dir);
  const file = path.join(setDir(set, dir), SNAPSHOT_FILE);
  const changed = readCommittedSnapshot(set, dir) !== text;
  if (changed) fs.writeFileSync(file, text);
  return { file, changed };
}

/** The CI drift check, no database needed: the files' schema against the committed snapshot. */
export async function checkSnapshotDrift(
  set: MigrationSet,
  dir?: string,
): Promise<SnapshotDrift & { set: MigrationSet; drift: boolean }> {
  const d = diffSnapshots(readCommittedSnapshot(set, dir), await snapshotFromFiles(set, dir));
  return { set, drift: d.missing.length + d.unexpected.length > 0, ...d };
}
