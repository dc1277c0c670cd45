// Discovery and acceptance of subband files. The directory is the truth: a full scan diffs every entry
// against hdf5_files; a targeted look does the same for a few paths (chokidar hints, settle follow-ups).
// A file is accepted only after it looked the same twice over settleS, passed the superblock check and the
// h5wasm header read; then it is placed into a group. Inputs are only ever read.
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

/** incomingDir with its symlinks resolved (it may itself be a link), or the path as given if absent. */
function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

export interface ScanStats {
  entries: number;
  matched: number;
  validated: number;
}

export class Intake {
  /** Junk names and ignored entries: counted and logged once while they stay (lines capped, then summarised). */
  private readonly notices: JunkNotices;
  /** Settling paths and when to look at them next. */
  readonly settleDue = new Map<string, number>();
  /**
   * Settled files are waiting for the header reader, which loads on first use (lib/uvh5/reader.ts): the loop
   * awaits headerReader.load() and looks again; until then the files stay due and nothing is lost.
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

  private scans = 0;

  /**
   * Full reconcile of the incoming directory. Files that are closed (terminal, or in a group past dispatch)
   * are stat'ed on a rotation, each at least once every deepScanEvery scans, so a directory of 100k kept
   * inputs costs a readdir, a sort and one merge step per name; everything else is stat'ed every scan.
   */
  fullScan(): ScanStats {
    const { cfg, clock, m } = this.ctx;
    const t0 = clock.monotonic();
    const scan = this.scans++;
    this.incomingReal = realDir(cfg.incomingDir);
    let names: string[];
    try {
      names = fs.readdirSync(cfg.incomingDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') names = [];
      else throw e;
    }
    names.sort();
    const work: { parsed: Good | null; path: string; stat: StatLite | null }[] = [];
    const counts = { matched: 0, closed: 0 };
    // Merge join of the sorted listing with the rows in path order (ASCII names: the same order in both).
    this.ctx.db.read((c) => {
      const rows = S.eachFileIdentity(c);
      let row = rows.next();
      for (const name of names) {
        const p = path.join(cfg.incomingDir, name);
        while (!row.done && row.value.path < p) {
          if (row.value.state !== 'gone') work.push({ parsed: null, path: row.value.path, stat: null });
          row = rows.next();
        }
        if (!row.done && row.value.path === p) {
          this.diffKnown(row.value, name, p, scan, counts, work);
          row = rows.next();
          continue;
        }
        const parsed = parseSubbandName(name, cfg.expectedSubbands);
        if (!parsed.ok) {
          this.noteBadName(parsed.name, parsed.reason);
          continue;
        }
        counts.matched++;
        work.push({ parsed, path: p, stat: this.statOf(p) });
      }
      for (; !row.done; row = rows.next())
        if (row.value.state !== 'gone') work.push({ parsed: null, path: row.value.path, stat: null });
    });
    const matched = counts.matched;
    if (this.notices.size) {
      const inDir = new Set(names);
      this.notices.forgetMissing('bad_name', (n) => inDir.has(n));
      this.notices.forgetMissing('ignored', (p) => inDir.has(path.basename(p)));
    }
    this.notices.summarize(clock.now());
    this.apply(work);
    this.rebuildSettleDue();
    const validated = this.processDue(true);
    m.scanSeconds.observe((clock.monotonic() - t0) / 1000);
    m.scanEntries.set(names.length);
    return { entries: names.length, matched, validated };
  }

  /** A file the DB knows: stat it (closed files only on their rotation slot) and queue it if it changed. */
  private diffKnown(
    row: S.FileIdentityRow,
    name: string,
    p: string,
    scan: number,
    counts: { matched: number; closed: number },
    work: { parsed: Good | null; path: string; stat: StatLite | null }[],
  ): void {
    counts.matched++;
    if (row.closed && (counts.closed++ + scan) % this.ctx.cfg.deepScanEvery !== 0) return;
    const stat = this.statOf(p);
    if (stat && row.state !== 'settling' && row.state !== 'gone' && sameIdentity(this.id(row), this.id(stat)))
      return;
    const parsed = parseSubbandName(name, this.ctx.cfg.expectedSubbands);
    work.push({ parsed: parsed.ok ? parsed : null, path: p, stat });
  }

  /** A targeted look at specific paths (watch hints). */
  look(paths: Iterable<string>): number {
    const items: { parsed: Good | null; path: string; stat: StatLite | null }[] = [];
    for (const p of paths) {
      if (path.dirname(p) !== path.resolve(this.ctx.cfg.incomingDir)) continue;
      const parsed = parseSubbandName(path.basename(p), this.ctx.cfg.expectedSubbands);
      if (!parsed.ok) {
        this.noteBadName(parsed.name, parsed.reason);
        continue;
      }
      items.push({ parsed, path: p, stat: this.statOf(p) });
    }
    this.apply(items);
    return this.processDue(false);
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
  private apply(items: { parsed: Good | null; path: string; stat: StatLite | null }[]): void {
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
   * Validate every settled file that is due (and, on full scans, unreadable files due a re-check). Due
   * files are looked at first (unless the scan just did), so a file that grew meanwhile starts settling
   * again instead of being read. The h5wasm reads happen outside any transaction; results are written in one.
   */
  private processDue(justScanned: boolean): number {
    const { cfg, clock } = this.ctx;
    const now = clock.now();
    const settleMs = cfg.settleS * 1000;
    const due = [...this.settleDue].filter(([, t]) => t <= now).map(([p]) => p);
    if (!justScanned && due.length)
      this.apply(due.map((p) => ({ parsed: null, path: p, stat: this.statOf(p) })));
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
    if (justScanned) {
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
