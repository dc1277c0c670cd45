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
import { ConfigError } from '../../lib/errors.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import * as S from './store.js';

export interface ArchiveHooks {
  /** Test fault: called after a group's files were renamed and before the rows are updated. */
  afterArchiveRename?: (groupId: string) => void;
}

/** Groups moved per tick at most (16 renames each), so one tick never holds the loop for long. */
export const GROUPS_PER_TICK = 4;

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
    const open = db.read((c) => S.pendingMoves(c));
    if (open.length === 0) return 0;
    let completed = 0;
    db.write((conn) => {
      const now = clock.now();
      for (const mv of open) {
        const atTo = inodeAt(mv.to_path) === mv.inode;
        const atFrom = inodeAt(mv.from_path) === mv.inode;
        if (atTo && !atFrom) {
          S.completeMove(conn, mv, now);
          completed++;
          continue;
        }
        S.dropMove(conn, mv.id);
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
    for (const g of db.read((c) => S.archivableGroups(c, due, GROUPS_PER_TICK))) this.archiveGroup(g);
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
      db.write((conn) => S.markArchived(conn, g.id, clock.now()));
      return;
    }
    fs.mkdirSync(dest, { recursive: true });
    const taken = plan.find((p) => fs.existsSync(p.to_path));
    if (taken) return this.failed(g, `${taken.to_path} already exists; not overwritten`);
    const moves = db.write((conn) => plan.map((p) => ({ ...p, id: S.insertMove(conn, p, clock.now()) })));
    const done: S.ArchiveMove[] = [];
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
      for (const mv of done) S.completeMove(conn, mv, now);
      for (const mv of moves.slice(done.length)) S.dropMove(conn, mv.id);
      if (error) return;
      S.markArchived(conn, g.id, now);
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
