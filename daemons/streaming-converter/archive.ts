// The optional archive policy (`streamingConverter.archive: {afterHours, dir}`, off unless configured): the
// inputs of a converted group move to `dir/YYYY-MM-DD/` (the group id's date, UTC) afterHours after the
// conversion finished, so incomingDir holds only recent and unfinished files. By default inputs are never
// moved (docs/streaming-converter.md, "Archive policy", for the trade-off).
//
// A move is rename(2) within one file system: atomic, no copy. Across file systems the daemon refuses (exit
// 78 at start when archive.dir is on another device than incomingDir; EXDEV on a move fails that move) rather
// than copy hundreds of GB. Each group is moved in three steps, every one safe to die after:
//   1. one transaction records an intent per file (converter_archive_moves, moved_at NULL);
//   2. each file is renamed (never over an existing name), then both directories are fsync'ed;
//   3. one transaction points hdf5_files.path at the new name, completes the intents, marks the group
//      archived and appends `converter.archived`.
// repair() settles intents a crash left open: the file at to_path (same inode) completes the move; the file
// still at from_path means the rename never happened and the intent is dropped.
import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '../../lib/db/index.js';
import { ConfigError } from '../../lib/errors.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import * as S from './store.js';
import { st } from './stmt.js';

export interface ArchiveHooks {
  /** Test fault: called after a group's files were renamed and before the rows are updated. */
  afterArchiveRename?: (groupId: string) => void;
}

/** Groups moved per tick at most (16 renames each), so one tick never holds the loop for long. */
export const GROUPS_PER_TICK = 4;

interface Move {
  id: number;
  group_ref: number;
  from_path: string;
  to_path: string;
  inode: number;
  dev: number;
}

// ---- SQL (converter_archive_moves, migration 0005) ----

function archivableGroups(conn: Connection, finishedBefore: number, limit: number): S.GroupRow[] {
  return st(
    conn,
    // The partial index holds only converted groups not archived yet; without INDEXED BY, SQLite would walk
    // every converted group by the state index.
    `SELECT * FROM converter_groups INDEXED BY converter_groups_archivable
     WHERE state = 'converted' AND archived_at IS NULL AND finished_at <= ? ORDER BY finished_at LIMIT ?`,
  ).all(finishedBefore, limit) as S.GroupRow[];
}

function pendingMoves(conn: Connection): Move[] {
  return st(conn, 'SELECT * FROM converter_archive_moves WHERE moved_at IS NULL ORDER BY id').all() as Move[];
}

function insertMove(conn: Connection, m: Omit<Move, 'id'>, now: number): number {
  return Number(
    st(
      conn,
      `INSERT INTO converter_archive_moves (group_ref, from_path, to_path, inode, dev, started_at)
       VALUES (@group_ref, @from_path, @to_path, @inode, @dev, @now)`,
    ).run({ ...m, now }).lastInsertRowid,
  );
}

function dropMove(conn: Connection, id: number): void {
  st(conn, 'DELETE FROM converter_archive_moves WHERE id = ? AND moved_at IS NULL').run(id);
}

/** The file is at to_path: the row follows it (if it still names from_path) and the intent is done. */
function completeMove(conn: Connection, m: Move, now: number): void {
  st(conn, 'UPDATE hdf5_files SET path = ? WHERE path = ? AND inode = ?').run(
    m.to_path,
    m.from_path,
    m.inode,
  );
  st(conn, 'UPDATE converter_archive_moves SET moved_at = ? WHERE id = ?').run(now, m.id);
}

function markArchived(conn: Connection, ref: number, now: number): void {
  st(conn, 'UPDATE converter_groups SET archived_at = ? WHERE id = ?').run(now, ref);
}

// ---- file system ----

function inodeAt(p: string): number | null {
  try {
    const s = fs.lstatSync(p, { throwIfNoEntry: false });
    return s?.isFile() ? s.ino : null;
  } catch {
    return null;
  }
}

/** fsync a directory so the renames in it survive a power cut (a crash without one needs no fsync). */
function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The group id's date: `2025-06-01T12:00:00` → `2025-06-01`. */
export function archiveFolder(dir: string, groupId: string): string {
  return path.join(dir, groupId.slice(0, 10));
}

export class Archiver {
  constructor(
    private readonly ctx: Ctx,
    private readonly hooks: ArchiveHooks = {},
  ) {}

  /**
   * At start with the policy on: create archive.dir and refuse (exit 78) when it is on another file system
   * than incomingDir, where a move could only be a copy.
   */
  prepare(): void {
    const { incomingDir, archive } = this.ctx.cfg;
    if (!archive) return;
    fs.mkdirSync(archive.dir, { recursive: true });
    const inDev = fs.statSync(incomingDir, { throwIfNoEntry: false })?.dev;
    const outDev = fs.statSync(archive.dir).dev;
    if (inDev !== undefined && inDev !== outDev) {
      const issue = `streamingConverter.archive.dir: ${archive.dir} is on another file system than incomingDir (${incomingDir}); archiving moves by rename only`;
      throw new ConfigError(issue, [issue]);
    }
  }

  /** Settle every intent a crash left open (at start, and before each tick). Returns the moves completed. */
  repair(): number {
    const { db, clock, log, m } = this.ctx;
    const open = db.read((c) => pendingMoves(c));
    if (open.length === 0) return 0;
    let completed = 0;
    db.write((conn) => {
      const now = clock.now();
      for (const mv of open) {
        const atTo = inodeAt(mv.to_path) === mv.inode;
        const atFrom = inodeAt(mv.from_path) === mv.inode;
        if (atTo && !atFrom) {
          completeMove(conn, mv, now);
          completed++;
          continue;
        }
        dropMove(conn, mv.id);
        if (!atFrom)
          log.error(
            { from: mv.from_path, to: mv.to_path },
            'archive move left open by a crash: the file is at neither path; the reconcile will mark it gone',
          );
      }
    });
    if (completed) {
      m.archived.inc({ result: 'repaired' }, completed);
      log.warn({ completed }, 'archive moves left open by a crash were completed');
    }
    return completed;
  }

  /** The archive loop's tick: repair, then move the inputs of up to GROUPS_PER_TICK groups that are due. */
  tick(): void {
    const { cfg, db, clock } = this.ctx;
    if (!cfg.archive) return;
    this.repair();
    const due = clock.now() - cfg.archive.afterHours * 3_600_000;
    for (const g of db.read((c) => archivableGroups(c, due, GROUPS_PER_TICK))) this.archiveGroup(g);
  }

  private archiveGroup(g: S.GroupRow): void {
    const { cfg, db, clock, log, m } = this.ctx;
    const dest = archiveFolder(cfg.archive!.dir, g.group_id);
    // Valid members still in incomingDir, still the file the row describes (anything else is the scans' job).
    const plan = db
      .read((c) => S.validMembers(c, g.id))
      .filter((f) => path.dirname(f.path) === cfg.incomingDir && inodeAt(f.path) === f.inode)
      .map((f) => ({
        group_ref: g.id,
        from_path: f.path,
        to_path: path.join(dest, f.name),
        inode: f.inode,
        dev: f.dev,
      }));
    if (plan.length === 0) {
      db.write((conn) => markArchived(conn, g.id, clock.now()));
      return;
    }
    fs.mkdirSync(dest, { recursive: true });
    const taken = plan.find((p) => fs.existsSync(p.to_path));
    if (taken) return this.failed(g, `${taken.to_path} already exists; not overwritten`);
    const moves = db.write((conn) => plan.map((p) => ({ ...p, id: insertMove(conn, p, clock.now()) })));
    const done: Move[] = [];
    let error: string | null = null;
    for (const mv of moves) {
      try {
        fs.renameSync(mv.from_path, mv.to_path);
        done.push(mv);
      } catch (e) {
        error = `${mv.from_path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
        break;
      }
    }
    if (done.length) {
      syncDir(dest);
      syncDir(cfg.incomingDir);
    }
    this.hooks.afterArchiveRename?.(g.group_id);
    db.write((conn) => {
      const now = clock.now();
      for (const mv of done) completeMove(conn, mv, now);
      for (const mv of moves.slice(done.length)) dropMove(conn, mv.id);
      if (error) return;
      markArchived(conn, g.id, now);
      emit(conn, 'archived', { groupId: g.group_id, files: done.length, dir: dest }, now);
      resolve(conn, 'ConverterArchiveFailed', {}, now);
    });
    m.archived.inc({ result: 'moved' }, done.length);
    if (error) return this.failed(g, error);
    log.info({ groupId: g.group_id, files: done.length, dir: dest }, 'inputs archived');
  }

  /** A move that cannot be done: alert, count, and throw so the loop backs off (and logs). */
  private failed(g: S.GroupRow, why: string): never {
    const { db, clock, m } = this.ctx;
    m.archived.inc({ result: 'failed' });
    db.write((conn) =>
      alert(
        conn,
        'ConverterArchiveFailed',
        'warning',
        {},
        `archiving group ${g.group_id} failed: ${why}`,
        clock.now(),
      ),
    );
    throw new Error(`archiving group ${g.group_id} failed: ${why}`);
  }
}
