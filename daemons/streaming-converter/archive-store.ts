// SQL for the archive policy (converter_archive_moves, migration 0005): groups due for archiving, and the
// move intents that make a crash between the renames and the row update repairable.
import type { Connection } from '../../lib/db/index.js';
import type { GroupRow } from './store.js';
import { st } from './stmt.js';

export interface ArchiveMove {
  id: number;
  group_ref: number;
  from_path: string;
  to_path: string;
  inode: number;
  dev: number;
}

export function archivableGroups(conn: Connection, finishedBefore: number, limit: number): GroupRow[] {
  return st(
    conn,
    // The partial index holds only converted groups not archived yet; without INDEXED BY, SQLite would walk
    // every converted group by the state index.
    `SELECT * FROM converter_groups INDEXED BY converter_groups_archivable
     WHERE state = 'converted' AND archived_at IS NULL AND finished_at <= ? ORDER BY finished_at LIMIT ?`,
  ).all(finishedBefore, limit) as GroupRow[];
}

export function pendingMoves(conn: Connection): ArchiveMove[] {
  return st(
    conn,
    'SELECT * FROM converter_archive_moves WHERE moved_at IS NULL ORDER BY id',
  ).all() as ArchiveMove[];
}

export function insertMove(conn: Connection, m: Omit<ArchiveMove, 'id'>, now: number): number {
  return Number(
    st(
      conn,
      `INSERT INTO converter_archive_moves (group_ref, from_path, to_path, inode, dev, started_at)
       VALUES (@group_ref, @from_path, @to_path, @inode, @dev, @now)`,
    ).run({ ...m, now }).lastInsertRowid,
  );
}

export function dropMove(conn: Connection, id: number): void {
  st(conn, 'DELETE FROM converter_archive_moves WHERE id = ? AND moved_at IS NULL').run(id);
}

/** The file is at to_path: the row follows it (if it still names from_path) and the intent is done. */
export function completeMove(conn: Connection, m: ArchiveMove, now: number): void {
  st(conn, 'UPDATE hdf5_files SET path = ? WHERE path = ? AND inode = ?').run(
    m.to_path,
    m.from_path,
    m.inode,
  );
  st(conn, 'UPDATE converter_archive_moves SET moved_at = ? WHERE id = ?').run(now, m.id);
}

export function markArchived(conn: Connection, ref: number, now: number): void {
  st(conn, 'UPDATE converter_groups SET archived_at = ? WHERE id = ?').run(now, ref);
}
