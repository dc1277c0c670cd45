// Discovery and acceptance of subband files. The directory is the truth, looked at in three ways whose cost
// follows the work, not the history: a targeted look at a few paths (watcher hints, settle follow-ups); the
// quick pass every scanIntervalS (hints, files of groups still in flight, entries reported as ignored,
// settling and unreadable files); and the reconcile (reconcile.ts), which feeds the whole listing and every
// known row through discover() and verify() in slices. A file is accepted only after it looked the same twice
// over settleS, passed the superblock check and the h5wasm header read; then it is placed into a group.
// Inputs are only ever read here (the optional archive policy moves converted inputs: archive.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Uvh5Inspection } from '../../lib/uvh5/index.js';
import { headerReader, type HeaderReader } from '../../lib/uvh5/reader.js';
import type { Connection } from '../../lib/db/index.js';
import { alert, emit, type Ctx } from './context.js';
import { acceptFile } from './acceptance.js';
import { inspectEntry, JunkNotices, type StatLite } from './entries.js';
import { refreshGroup } from './groups.js';
import { parseSubbandName, type ParsedName } from './names.js';
import { isSettled, OPEN_STATES, sameIdentity } from './rules.js';
import * as S from './store.js';

type Good = Extract<ParsedName, { ok: true }>;
interface Item {
  parsed: Good | null;
  path: string;
  stat: StatLite | null;
}

/** incomingDir with its symlinks resolved (it may itself be a link), or the path as given if absent. */
function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

export interface PassStats {
  /** Paths stat'ed or names looked up. */
  examined: number;
  /** Files whose headers were read. */
  validated: number;
}

export class Intake {
  /** Junk names and ignored entries: counted and logged once while they stay (lines capped, then summarised). */
  private readonly notices: JunkNotices;
  /** Settling paths and when to look at them next. */
  readonly settleDue = new Map<string, number>();
  /**
   * Settled files are waiting for the header reader, which loads on first use (lib/uvh5/reader.ts): the main
   * loop awaits headerReader.load() (already once a file is settling) and looks again; until then the files
   * stay due and nothing is lost.
   */
  wantsReader = false;
  private incomingReal: string;

  constructor(private readonly ctx: Ctx) {
    this.notices = new JunkNotices(ctx.log, ctx.m);
    this.incomingReal = realDir(ctx.cfg.incomingDir);
  }

  /**
   * The identity of a subband-named entry, or null when there is nothing usable there: absent, or an entry
   * that is not a regular file (reported once per path), or a symlink out of incomingDir (refused unless
   * followExternalSymlinks).
   */
  private statOf(p: string): StatLite | null {
    const e = inspectEntry(p, {
      incomingReal: this.incomingReal,
      followExternal: this.ctx.cfg.followExternalSymlinks,
    });
    if (e.kind !== 'ignored') {
      this.notices.forget(p);
      return e.kind === 'file' ? e.stat : null;
    }
    this.notices.note('ignored', p, e.reason, this.ctx.clock.now(), () =>
      this.ctx.log.warn(
        { path: p, reason: e.reason, ...(e.target ? { target: e.target } : {}) },
        e.reason === 'external_symlink'
          ? 'refusing file: symlink to outside incomingDir (streamingConverter.followExternalSymlinks is false)'
          : 'ignoring entry: a subband file name, but not a regular file',
      ),
    );
    return null;
  }

  /** Re-resolve incomingDir (it may be a symlink that was re-pointed): at the start of every pass. */
  refreshDir(): void {
    this.incomingReal = realDir(this.ctx.cfg.incomingDir);
  }

  /**
   * The quick pass (every scanIntervalS): hinted paths, the valid files of groups still in flight (a file
   * that vanished or changed before or during its conversion is caught here), entries reported as ignored
   * (a repaired link becomes an input), then settling files that are due and unreadable files due a
   * re-check. Costs O(work in flight), never O(files in incomingDir).
   */
  quickPass(hinted: readonly string[]): PassStats {
    this.refreshDir();
    const items = this.hintItems(hinted);
    const inFlight = this.ctx.db.read((c) => S.inFlightFiles(c));
    for (const r of inFlight) {
      const stat = this.statOf(r.path);
      if (!stat || !sameIdentity(this.id(r), this.id(stat))) items.push({ parsed: null, path: r.path, stat });
    }
    const ignored = this.notices.keys('ignored');
    items.push(...this.hintItems(ignored));
    this.apply(items);
    this.rebuildSettleDue();
    const due = this.settleDue.size;
    const validated = this.processDue(true);
    this.notices.summarize(this.ctx.clock.now());
    return { examined: hinted.length + inFlight.length + ignored.length + due, validated };
  }

  /** A listing of the whole directory begins (reconcile): junk it does not meet is forgotten at its end. */
  beginListing(): void {
    this.refreshDir();
    this.notices.beginPass();
  }

  endListing(): void {
    this.notices.endPass();
    this.notices.summarize(this.ctx.clock.now());
  }

  /**
   * One slice of a listing: junk names are noted, subband names without a row (primary-key index lookups,
   * a statement per 500 names) are stat'ed and recorded. Known files are left to verify(). Returns the new
   * files recorded.
   */
  discover(names: readonly string[]): number {
    const { cfg } = this.ctx;
    const candidates: { parsed: Good; path: string }[] = [];
    for (const name of names) {
      const parsed = parseSubbandName(name, cfg.expectedSubbands);
      if (parsed.ok) candidates.push({ parsed, path: path.join(cfg.incomingDir, name) });
      else this.noteBadName(parsed.name, parsed.reason);
    }
    if (candidates.length === 0) return 0;
    const known = this.ctx.db.read((c) =>
      S.knownPaths(
        c,
        candidates.map((x) => x.path),
      ),
    );
    const items: Item[] = [];
    for (const x of candidates)
      if (!known.has(x.path)) items.push({ parsed: x.parsed, path: x.path, stat: this.statOf(x.path) });
    this.apply(items);
    return items.length;
  }

  /**
   * One slice of known rows (reconcile): stat each; record what vanished or changed under its name, and a
   * file back at the path of a `gone` row.
   */
  verify(rows: readonly S.FileIdentityRow[]): number {
    const items: Item[] = [];
    for (const r of rows) {
      const stat = this.statOf(r.path);
      if (r.state === 'gone') {
        const parsed = parseSubbandName(path.basename(r.path), this.ctx.cfg.expectedSubbands);
        if (stat && parsed.ok) items.push({ parsed, path: r.path, stat });
      } else if (!stat || !sameIdentity(this.id(r), this.id(stat)))
        items.push({ parsed: null, path: r.path, stat });
    }
    this.apply(items);
    return items.length;
  }

  /** A targeted look at specific paths (watch hints), then at settling files that are due. */
  look(paths: readonly string[]): number {
    this.apply(this.hintItems(paths));
    return this.processDue(false);
  }

  /** Hinted paths directly in incomingDir: subband names with their stat; junk names noted (or forgotten if gone). */
  private hintItems(paths: readonly string[]): Item[] {
    const items: Item[] = [];
    for (const p of paths) {
      if (path.dirname(p) !== path.resolve(this.ctx.cfg.incomingDir)) continue;
      const parsed = parseSubbandName(path.basename(p), this.ctx.cfg.expectedSubbands);
      if (parsed.ok) items.push({ parsed, path: p, stat: this.statOf(p) });
      // A transfer's temp name is hinted while written and gone after its rename: not remembered.
      else if (fs.existsSync(p)) this.noteBadName(parsed.name, parsed.reason);
      else this.notices.forget(parsed.name);
    }
    return items;
  }

  /** The earliest time a settling file should be looked at again. */
  nextDueAt(): number | null {
    let t: number | null = null;
    for (const d of this.settleDue.values()) if (t === null || d < t) t = d;
    return t;
  }

  private id(x: { size: number; mtime_ms: number; inode: number }) {
    return { size: x.size, mtimeMs: x.mtime_ms, inode: x.inode };
  }

  private noteBadName(name: string, reason: string): void {
    // Hidden and temp names are normal transfer artefacts (rsync's .name.XXXX): counted, logged at debug,
    // outside the line cap and the summary.
    const routine = reason === 'dotfile' || reason === 'temp_suffix';
    this.notices.note(
      'bad_name',
      name,
      reason,
      this.ctx.clock.now(),
      () =>
        this.ctx.log[routine ? 'debug' : 'info'](
          { name, reason },
          'ignoring file: name is not YYYY-MM-DDTHH:MM:SS_sbNN.hdf5',
        ),
      routine,
    );
  }

  /** Record new, changed and vanished files. */
  private apply(items: readonly Item[]): void {
    if (items.length === 0) return;
    const now = this.ctx.clock.now();
    this.ctx.db.write((conn) => {
      for (const it of items) this.observe(conn, it.path, it.parsed, it.stat, now);
    });
  }

  private observe(
    conn: Connection,
    p: string,
    parsed: Good | null,
    stat: StatLite | null,
    now: number,
  ): void {
    const row = S.getFile(conn, p);
    if (!stat) {
      if (row && row.state !== 'gone') this.gone(conn, row, now);
      this.settleDue.delete(p);
      return;
    }
    if (!row || row.state === 'gone') {
      if (!parsed) return;
      S.insertFile(
        conn,
        {
          path: p,
          name: parsed.name,
          ts_name: parsed.tsName,
          ts_ms: parsed.tsMs,
          subband: parsed.subband,
          ...stat,
        },
        now,
      );
      this.settleDue.set(p, now + this.ctx.cfg.settleS * 1000);
      return;
    }
    if (sameIdentity(this.id(row), this.id(stat))) {
      if (row.state === 'settling') S.sawUnchanged(conn, p, now);
      return;
    }
    this.identityChanged(conn, row, stat, now);
  }

  private identityChanged(conn: Connection, row: S.FileRow, stat: StatLite, now: number): void {
    const group = row.group_ref !== null ? S.getGroup(conn, row.group_ref) : undefined;
    if (row.state === 'valid' && group && !OPEN_STATES.includes(group.state)) {
      S.resettle(conn, row.path, stat, now);
      S.setFileState(conn, row.path, 'changed', 'changed_after_dispatch', now, group.id);
      this.ctx.m.files.inc({ result: 'changed', reason: 'after_dispatch' });
      emit(conn, 'file_changed', { path: row.path, groupId: group.group_id, state: group.state }, now);
      alert(
        conn,
        'ConverterInputChanged',
        'warning',
        { group: group.group_id },
        `${row.name} changed after its group was dispatched`,
        now,
      );
      this.ctx.log.warn(
        { path: row.path, groupId: group.group_id, from: 'valid', to: 'changed' },
        'input changed after dispatch',
      );
      return;
    }
    if (row.state === 'changed') {
      S.resettle(conn, row.path, stat, now);
      S.setFileState(conn, row.path, 'changed', row.reason, now, row.group_ref);
      return;
    }
    S.resettle(conn, row.path, stat, now);
    this.settleDue.set(row.path, now + this.ctx.cfg.settleS * 1000);
    if (row.state === 'valid' && group) refreshGroup(this.ctx, conn, group.id, now);
  }

  private gone(conn: Connection, row: S.FileRow, now: number): void {
    S.setFileState(conn, row.path, 'gone', `was ${row.state}`, now);
    this.ctx.m.files.inc({ result: 'gone', reason: row.state });
    if (row.state !== 'valid' || row.group_ref === null) return;
    const group = S.getGroup(conn, row.group_ref);
    if (group && OPEN_STATES.includes(group.state)) {
      emit(conn, 'file_gone', { path: row.path, groupId: group.group_id }, now);
      alert(
        conn,
        'ConverterInputGone',
        'warning',
        { group: group.group_id },
        `${row.name} vanished before its group was dispatched`,
        now,
      );
      this.ctx.log.warn(
        { path: row.path, groupId: group.group_id, from: 'valid', to: 'gone' },
        'file vanished before dispatch',
      );
      refreshGroup(this.ctx, conn, group.id, now);
    }
  }

  private rebuildSettleDue(): void {
    const settle = this.ctx.cfg.settleS * 1000;
    this.settleDue.clear();
    for (const f of this.ctx.db.read((c) => S.settlingFiles(c)))
      this.settleDue.set(f.path, f.stable_since + settle);
  }

  /**
   * Validate every settled file that is due (and, on quick passes, unreadable files due a re-check). Due
   * files are stat'ed first, so a file that grew meanwhile starts settling again instead of being read. The
   * h5wasm reads happen outside any transaction; results are written in one.
   */
  private processDue(recheck: boolean): number {
    const { cfg, clock } = this.ctx;
    const now = clock.now();
    const settleMs = cfg.settleS * 1000;
    const due = [...this.settleDue].filter(([, t]) => t <= now).map(([p]) => p);
    if (due.length) this.apply(due.map((p) => ({ parsed: null, path: p, stat: this.statOf(p) })));
    const rows = this.ctx.db.read((c) =>
      due.map((p) => S.getFile(c, p)).filter((r): r is S.FileRow => r !== undefined),
    );
    const candidates: S.FileRow[] = [];
    for (const r of rows) {
      if (r.state !== 'settling') this.settleDue.delete(r.path);
      else if (isSettled({ stableLooks: r.stable_looks, stableSince: r.stable_since }, now, settleMs))
        candidates.push(r);
      else this.settleDue.set(r.path, Math.max(now + 50, r.stable_since + settleMs));
    }
    if (recheck) {
      const again = this.ctx.db.read((c) =>
        S.unreadableDue(c, now - cfg.recheckInvalidS * 1000, cfg.maxRechecks),
      );
      candidates.push(...again);
    }
    if (candidates.length === 0) return 0;
    const reader = headerReader.get();
    this.wantsReader = reader === undefined;
    if (!reader) return 0;
    const results = candidates.map((r) => ({ row: r, res: this.inspect(reader, r.path) }));
    this.ctx.db.write((conn) => {
      for (const { row, res } of results) acceptFile(this.ctx, conn, row, res, clock.now(), this.settleDue);
    });
    return results.length;
  }

  /** Look at settling files whose settle time has come (the loop calls this between scans). */
  lookDue(): number {
    return this.processDue(false);
  }

  private inspect(reader: HeaderReader, p: string): Uvh5Inspection {
    const t0 = this.ctx.clock.monotonic();
    try {
      return reader.inspectUvh5(p);
    } finally {
      this.ctx.m.headerSeconds.observe((this.ctx.clock.monotonic() - t0) / 1000);
    }
  }
}
