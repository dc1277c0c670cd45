// Seed an incoming directory and the state DB with already-converted groups (what a host holds after weeks:
// inputs are kept forever). The files are placeholders (nothing reads a converted group's files again);
// their rows carry the identities the daemon will stat, so a restart must find nothing to do for them.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { subbandFileName } from '../../../lib/uvh5/writer.js';

export function seedConverted(
  incoming: string,
  statePath: string,
  nGroups: number,
  firstMs: number,
  spacingMs = 309_000,
): number {
  const db = new Database(statePath);
  db.pragma('journal_mode = WAL');
  const now = Date.now();
  const insGroup = db.prepare(
    `INSERT INTO converter_groups (group_id, anchor_ms, state, expected, n_valid, first_seen_at, last_file_at, ready_at,
       dispatched_at, finished_at, attempts, output_path, updated_at)
     VALUES (?, ?, 'converted', 16, 16, ?, ?, ?, ?, ?, 1, ?, ?)`,
  );
  const insFile = db.prepare(
    `INSERT INTO hdf5_files (path, name, ts_name, ts_ms, subband, size, mtime_ms, inode, dev, state, stable_looks,
       stable_since, first_seen_at, last_checked_at, group_ref, validated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', 2, ?, ?, ?, ?, ?)`,
  );
  let files = 0;
  db.transaction(() => {
    for (let g = 0; g < nGroups; g++) {
      const t = firstMs + g * spacingMs;
      const gid = new Date(t).toISOString().slice(0, 19);
      const ref = Number(
        insGroup.run(gid, t, now, now, now, now, now, `/out/${gid}.ms`, now).lastInsertRowid,
      );
      for (let sb = 0; sb < 16; sb++) {
        const name = subbandFileName(t, sb);
        const p = path.join(incoming, name);
        fs.closeSync(fs.openSync(p, 'w'));
        const s = fs.statSync(p);
        insFile.run(
          p,
          name,
          name.slice(0, 19),
          t,
          sb,
          s.size,
          Math.floor(s.mtimeMs),
          s.ino,
          s.dev,
          now,
          now,
          now,
          ref,
          now,
        );
        files++;
      }
    }
  })();
  db.close();
  return files;
}
