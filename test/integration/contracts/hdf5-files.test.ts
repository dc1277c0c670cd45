// The one table one daemon reads from another: the pointing monitor takes its sb00 headers from the streaming
// converter's `hdf5_files` index (docs/database.md, "Tables read across daemons"). Pinned from both sides:
// the converter's real intake writes the rows, the pointing monitor's own query reads them.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { indexIsEmpty, pendingFromIndex } from '../../../daemons/pointing-monitor/headers.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import {
  groups,
  makeEnv,
  startInProcess,
  T0,
  writeGroupFiles,
  writeSubband,
  type Env,
} from '../converter/harness.js';

let env: Env;
let d: RunningDaemon | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
  removeTmpDir(env.dir);
});

function readIndex<T>(e: Env, fn: (db: Database.Database) => T): T {
  const db = new Database(e.statePath, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe('hdf5_files: written by the streaming converter, read by the pointing monitor', () => {
  it("each group's sb00 reaches the pointing monitor once, with the path the file has now and the time of its name", async () => {
    env = await makeEnv();
    expect(readIndex(env, (db) => indexIsEmpty(db))).toBe(true);
    writeGroupFiles(env.incoming, T0);
    // The second group's sb00 is named 2 s after its other subbands (the writers' clocks differ).
    const jittered = T0 + 309_000;
    writeGroupFiles(env.incoming, jittered, { jitter: (sb) => (sb === 0 ? 2 : 0) });
    // Not a subband file of a group: an sb00 that is no HDF5 file is indexed, but never as valid.
    fs.writeFileSync(path.join(env.incoming, '2025-06-01T13:00:00_sb00.hdf5'), 'not hdf5');
    d = await startInProcess(env);
    await waitFor(() => groups(env).filter((g) => g.state === 'converted').length === 2, {
      what: 'two groups converted',
      timeoutMs: 30_000,
    });
    await waitFor(
      () =>
        readIndex(env, (db) => db.prepare("SELECT 1 FROM hdf5_files WHERE state = 'invalid'").get()) !==
        undefined,
      { what: 'the corrupt file judged' },
    );
    const pending = readIndex(env, (db) => pendingFromIndex(db, 0, 100));
    const names = pending.map((p) => path.basename(p.path));
    expect(names).toEqual(['2025-06-01T12:00:00_sb00.hdf5', '2025-06-01T12:05:11_sb00.hdf5']);
    for (const p of pending) {
      expect(fs.existsSync(p.path)).toBe(true);
      expect(p.groupId).toBe(path.basename(p.path).slice(0, 19));
      expect(p.tsMs).toBe(Date.parse(`${p.groupId}Z`));
    }
    // The window: only headers named at or after sinceMs.
    expect(readIndex(env, (db) => pendingFromIndex(db, jittered, 100)).map((p) => p.groupId)).toEqual([
      '2025-06-01T12:05:11',
    ]);
    expect(readIndex(env, (db) => indexIsEmpty(db))).toBe(false);
    // The converter names a group after its sb00, so the pointing monitor's group id is the converter's: a join
    // from pointing_observations to converter_groups meets the same group.
    expect(groups(env).map((g) => g.group_id)).toEqual(pending.map((p) => p.groupId));
  });

  it('a second sb00 in the same group (a late duplicate) is not offered twice', async () => {
    env = await makeEnv();
    writeGroupFiles(env.incoming, T0);
    writeSubband(env.incoming, T0, 0, { jitterS: 1 });
    d = await startInProcess(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    const pending = readIndex(env, (db) => pendingFromIndex(db, 0, 100));
    expect(pending.map((p) => p.groupId)).toEqual(['2025-06-01T12:00:00']);
  });
});
