// Migrations for the two databases (docs/migrations.md). Daemons only call assertSchema() at start; the
// `contimg migrate` CLI and tests call the runner.
import { SchemaVersionError } from '../errors.js';
import type { Db } from '../db/index.js';
import { headVersion, type MigrationSet } from './files.js';
import { contractProblems } from './contract.js';
import { hasLedger } from './ledger.js';
import { userTables } from './snapshot.js';

export {
  SETS,
  isMigrationSet,
  loadMigrations,
  headVersion,
  newMigration,
  defaultMigrationsRoot,
  setDir,
  MigrationFileError,
  type MigrationSet,
  type MigrationFile,
  type Directives,
} from './files.js';
export {
  migrateUp,
  migrateDown,
  findDrift,
  DriftError,
  MigrationFailedError,
  type UpOptions,
  type RunOptions,
  type RunResult,
} from './runner.js';
export { LockBusyError, readLedger, hasLedger, type LedgerRow } from './ledger.js';
export { contractOf, contractProblems } from './contract.js';
export { dumpSchema, diffSnapshots, normaliseSql, userTables } from './snapshot.js';
export {
  status,
  verify,
  snapshotFromFiles,
  readCommittedSnapshot,
  writeSnapshot,
  checkSnapshotDrift,
} from './verify.js';
export type { StatusReport, VerifyReport, SnapshotDrift } from './verify.js';

/**
 * The daemon start-up check: PRAGMA user_version must equal this build's head for the set. Lower means the
 * operator has not migrated yet; higher means the database is newer than this build (refuse to touch it).
 * A pipeline file without our ledger (built by the imaging pipeline itself) passes when it holds the
 * contract's tables and columns instead.
 */
export function assertSchema(db: Db, set: MigrationSet, dir?: string): void {
  const expected = headVersion(set, dir);
  const actual = db.userVersion();
  if (actual === expected) return;
  const where = `${set} database ${db.path}`;
  if (set === 'pipeline' && !hasLedger(db.conn) && userTables(db.conn).length > 0) {
    // A pipeline file the imaging pipeline built itself (no ledger of ours): check the contract's columns.
    const problems = contractProblems(db.conn, set, dir);
    if (problems.length === 0) return;
    throw new SchemaVersionError(
      `${where} does not hold the contract tables: ${problems.slice(0, 10).join('; ')}`,
      {
        db: set,
        expected,
        actual,
      },
    );
  }
  const message =
    actual < expected
      ? `${where} is at schema version ${actual}, this build needs ${expected}: run \`contimg migrate up --db ${set}\``
      : `${where} is at schema version ${actual}, newer than this build's ${expected}: refusing to start (upgrade the daemons or restore a matching backup)`;
  throw new SchemaVersionError(message, { db: set, expected, actual });
}
