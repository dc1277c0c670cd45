// Write throughput and lock wait with 1, 2 and 4 processes on one WAL file, before and after in one run.
// Each process runs cycles of two BEGIN IMMEDIATE write transactions for a fixed time:
//   queue  – claim + complete through lib/queue (the `jobs` table, four indexes, the full row returned);
//   plain  – the same two steps as bare single-index statements on a narrow table (the scale for queue).
// Each workload runs as the code is now ("after": db.write polls for the lock with SQLite's busy handler off;
// the claim's LIMIT is CAST) and as it was ("before": BEGIN IMMEDIATE waiting in SQLite's busy handler,
// which sleeps 1, 2, 5 … 100 ms between tries, and a bare `LIMIT @limit` that re-prepared the claim on every
// call). Prints ratios first (after/before lock-wait max and p99, queue/plain cycles), then every case:
// cycles/s, write tx/s, p50/p99/max lock wait, SQLITE_BUSY that escaped, double claims, WAL size, shares;
// for the polling wait, the waits at or over the p99 against every process's holds of the lock meanwhile
// (one other hold for most of the wait: a holder off its core or a long COMMIT; many: the lock passed from
// hand to hand past the waiter).
// Then the WAL guard on a large WAL: how long it holds the write lock checkpointing straight away with
// RESTART (before) and PASSIVE first, then RESTART (after).
// Run by hand: `npx tsx bench/db-contention.ts [seconds] [processes,…]` (never part of npm test).
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openDb, walGuardTick, type Connection, type Db } from '../lib/db/index.js';
import { appendEvent } from '../lib/events/index.js';
import { silentLogger } from '../lib/log.js';
import { enqueue, SqliteQueueStore } from '../lib/queue/index.js';
import { queueStatements } from '../lib/queue/sql.js';

const HERE = fileURLToPath(import.meta.url);
const MIGRATION = path.join(path.dirname(HERE), '..', 'migrations', 'state', '0001_platform.up.sql');
const JOBS = 200_000;

type Workload = 'queue' | 'plain';
type Variant = 'after' | 'before';

interface ChildReport {
  cycles: number;
  escaped: Record<string, number>;
  waitsMs: number[];
  walBytes: number;
  /** The long waits (over LONG_WAIT_MS) of the polling lock wait, taken apart. */
  long: LongWait[];
  /** Every write's hold of the lock (fn start → COMMIT done) and its COMMIT alone, ms. */
  holdsMs: number[];
  commitsMs: number[];
  /** Every hold of the lock, wall clock (ms since the epoch, µs resolution): [fn start, COMMIT start, done]. */
  spans: number[];
  /** Every wait of at least TAIL_WAIT_MS, wall clock: what the lock did meanwhile is read from all spans. */
  tailWaits: TailWait[];
}

/** A wait in the tail: its wall-clock window, and this process's tries and longest gap between them. */
interface TailWait {
  from: number;
  to: number;
  tries: number;
  maxGapMs: number;
}

/** A long lock wait: how often it tried, the longest gap between two tries (the process not running). */
interface LongWait {
  waitMs: number;
  tries: number;
  maxGapMs: number;
}

const LONG_WAIT_MS = 20;
/** Waits from here on are taken apart against every process's holds (the p99 at 4 processes is 4-10 ms). */
const TAIL_WAIT_MS = 2;

interface CaseResult {
  cyclesPerS: number;
  p50: number;
  p99: number;
  max: number;
  line: string;
}

const PLAIN_DDL = `
  CREATE TABLE plain_jobs (id INTEGER PRIMARY KEY, state INTEGER NOT NULL, owner TEXT, payload TEXT NOT NULL,
    updated_at INTEGER NOT NULL);
  CREATE INDEX plain_jobs_state ON plain_jobs (state, id);`;

const waitCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * The code paths as they were: the lock wait in SQLite's busy handler (busy_timeout 5 s; retried with 5–100 ms
 * backoff if the handler gives up, which it never did in this bench), and the claim with a bare LIMIT.
 */
function useOldCodePaths(db: Db): void {
  const s = queueStatements(db.conn);
  s.claim = db.conn.prepare(s.claim.source.replaceAll('CAST(@limit AS INTEGER)', '@limit'));
  const conn = db.conn;
  conn.pragma('busy_timeout = 5000');
  db.write = <T>(fn: (c: Connection) => T): T => {
    for (let attempt = 1; ; attempt++) {
      try {
        return conn.transaction(fn).immediate(conn);
      } catch (e) {
        if (!String((e as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw e;
        Atomics.wait(waitCell, 0, 0, Math.min(100, 5 * 2 ** attempt));
      }
    }
  };
}

/**
 * Time from calling db.write until its function runs: the lock wait (BEGIN IMMEDIATE has the lock then). For
 * the polling wait (after), also every try of BEGIN IMMEDIATE, so a long wait can be told apart: many tries
 * that found the lock taken (unfair), or long gaps between tries (the process was not running), and the hold
 * and COMMIT times of every write (is anyone holding the lock long: a checkpoint, an fsync?).
 */
function measureLockWait(
  db: Db,
  report: Pick<ChildReport, 'waitsMs' | 'long' | 'holdsMs' | 'commitsMs' | 'spans' | 'tailWaits'>,
): void {
  const tries: number[] = [];
  let commitStart = 0;
  const lock = (db as unknown as { lock?: { tryBegin(): boolean; commit(): void } }).lock;
  if (lock) {
    const tryBegin = lock.tryBegin.bind(lock);
    lock.tryBegin = () => {
      tries.push(performance.now());
      return tryBegin();
    };
    const commit = lock.commit.bind(lock);
    lock.commit = () => {
      const t = (commitStart = performance.now());
      commit();
      report.commitsMs.push(performance.now() - t);
    };
  }
  const write = db.write.bind(db);
  db.write = <T>(fn: (c: Connection) => T): T => {
    tries.length = 0;
    const t0 = performance.now();
    let t1 = t0;
    commitStart = 0;
    try {
      return write((c) => {
        t1 = performance.now();
        const waitMs = t1 - t0;
        report.waitsMs.push(waitMs);
        if (waitMs >= TAIL_WAIT_MS) {
          let maxGapMs = 0;
          let prev = t0;
          for (const t of [...tries, t1]) {
            maxGapMs = Math.max(maxGapMs, t - prev);
            prev = t;
          }
          if (waitMs > LONG_WAIT_MS) report.long.push({ waitMs, tries: tries.length, maxGapMs });
          const origin = performance.timeOrigin;
          report.tailWaits.push({ from: origin + t0, to: origin + t1, tries: tries.length, maxGapMs });
        }
        return fn(c);
      });
    } finally {
      const end = performance.now();
      report.holdsMs.push(end - t1);
      const origin = performance.timeOrigin;
      report.spans.push(origin + t1, origin + (commitStart || end), origin + end);
    }
  };
}

/** One cycle of the workload; false when there is nothing left to claim. */
function cycleFor(workload: Workload, db: Db, owner: string): () => boolean {
  if (workload === 'queue') {
    const store = new SqliteQueueStore(db);
    return () => {
      const [job] = store.claim({ queue: 'bench', owner, leaseMs: 60_000 });
      if (!job) return false;
      store.complete(job.lease);
      return true;
    };
  }
  const claim = db.conn.prepare<[string, number], { id: number; payload: string }>(
    `UPDATE plain_jobs SET state = 1, owner = ?, updated_at = ?
     WHERE id = (SELECT id FROM plain_jobs WHERE state = 0 ORDER BY id LIMIT 1) RETURNING id, payload`,
  );
  const complete = db.conn.prepare(
    'UPDATE plain_jobs SET state = 2, updated_at = ? WHERE id = ? AND state = 1',
  );
  return () => {
    const row = db.write(() => claim.get(owner, Date.now()));
    if (!row) return false;
    JSON.parse(row.payload);
    db.write(() => complete.run(Date.now(), row.id));
    return true;
  };
}

async function child(file: string, seconds: number, workload: Workload, variant: Variant): Promise<void> {
  const db = openDb({ name: 'state', path: file, busyTimeoutMs: 5000, writeBudgetMs: 15_000 });
  if (variant === 'before') useOldCodePaths(db);
  const report = {
    waitsMs: [] as number[],
    long: [] as LongWait[],
    holdsMs: [] as number[],
    commitsMs: [] as number[],
    spans: [] as number[],
    tailWaits: [] as TailWait[],
  };
  measureLockWait(db, report);
  const cycle = cycleFor(workload, db, `bench:${process.pid}`);
  const escaped: Record<string, number> = {};
  let cycles = 0;
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    try {
      if (!cycle()) break;
      cycles++;
    } catch (e) {
      const code = String((e as { code?: unknown }).code ?? (e as Error).name);
      escaped[code] = (escaped[code] ?? 0) + 1;
    }
  }
  const walBytes = db.walBytes();
  db.close();
  // Disconnect only once the report is flushed: disconnecting at once can drop a large message.
  const top = (xs: number[]): number[] => xs.sort((a, b) => b - a).slice(0, 200);
  process.send?.(
    {
      cycles,
      escaped,
      waitsMs: report.waitsMs,
      walBytes,
      long: report.long,
      holdsMs: top(report.holdsMs),
      commitsMs: top(report.commitsMs),
      spans: report.spans,
      tailWaits: report.tailWaits,
    } satisfies ChildReport,
    () => process.disconnect(),
  );
}

function seed(dir: string, jobs: number): string {
  const file = path.join(dir, 'state.sqlite3');
  const conn = new Database(file);
  conn.pragma('journal_mode = WAL');
  conn.exec(fs.readFileSync(MIGRATION, 'utf8'));
  conn.exec(PLAIN_DDL);
  conn.close();
  const db = openDb({ name: 'state', path: file });
  const now = Date.now();
  const plain = db.conn.prepare('INSERT INTO plain_jobs (state, payload, updated_at) VALUES (0, ?, ?)');
  for (let done = 0; done < jobs; done += 10_000)
    db.write((c) => {
      for (let i = 0; i < 10_000; i++) {
        enqueue(c, { queue: 'bench', kind: 'noop', payload: { i: done + i } }, now);
        plain.run(JSON.stringify({ i: done + i }), now);
      }
    });
  db.checkpoint('truncate');
  db.close();
  return file;
}

/** The long waits taken apart, and the longest hold and COMMIT (polling variant only). */
function longWaits(all: ChildReport[]): string {
  const long = all.flatMap((r) => r.long).sort((a, b) => b.waitMs - a.waitMs);
  const holds = all.flatMap((r) => r.holdsMs);
  const commits = all.flatMap((r) => r.commitsMs);
  if (commits.length === 0) return `waits > ${LONG_WAIT_MS} ms: ${long.length}`;
  const worst = long
    .slice(0, 3)
    .map((w) => `${w.waitMs.toFixed(0)} ms: ${w.tries} tries, longest gap ${w.maxGapMs.toFixed(1)} ms`)
    .join('; ');
  return (
    `waits > ${LONG_WAIT_MS} ms: ${long.length}${worst ? ` (${worst})` : ''}; ` +
    `longest hold ${Math.max(...holds).toFixed(1)} ms, longest COMMIT ${Math.max(...commits).toFixed(1)} ms`
  );
}

/**
 * The waits at or over the p99, against every process's holds of the lock during each: was the lock with one
 * other holder for most of the wait (a holder off its core, or a long COMMIT), did it pass from hand to hand
 * past this waiter (unfairness), or was it free while this waiter did not try (the waiter off its core)?
 */
function tailWaits(all: ChildReport[], p99: number): string {
  const holds: { proc: number; from: number; commit: number; to: number }[] = [];
  all.forEach((r, proc) => {
    for (let i = 0; i < r.spans.length; i += 3)
      holds.push({ proc, from: r.spans[i], commit: r.spans[i + 1], to: r.spans[i + 2] });
  });
  if (holds.length === 0) return '';
  holds.sort((a, b) => a.from - b.from);
  const starts = holds.map((h) => h.from);
  const longestHold = holds.reduce((m, h) => Math.max(m, h.to - h.from), 0);
  const tail = all.flatMap((r, proc) =>
    r.tailWaits.filter((w) => w.to - w.from >= p99).map((w) => ({ ...w, proc })),
  );
  if (tail.length === 0) return `no waits ≥ the p99 (${p99.toFixed(1)} ms) of ${TAIL_WAIT_MS} ms or more`;
  let oneHolder = 0;
  /** Of the one long hold in such a wait: how much of it was its COMMIT (the rest: the body, off its core). */
  const commitShare: number[] = [];
  const handovers: number[] = [];
  const freeShare: number[] = [];
  const gaps: number[] = [];
  for (const w of tail) {
    // Holds that began before the wait ended; the first candidates can start up to one longest hold earlier.
    let i = lowerBound(starts, w.from - longestHold);
    let covered = 0;
    let longest = 0;
    let longestHoldOf: (typeof holds)[number] | undefined;
    let count = 0;
    for (; i < holds.length && holds[i].from < w.to; i++) {
      const h = holds[i];
      if (h.proc === w.proc || h.to <= w.from) continue;
      const overlap = Math.min(h.to, w.to) - Math.max(h.from, w.from);
      covered += overlap;
      if (overlap > longest) [longest, longestHoldOf] = [overlap, h];
      count++;
    }
    const waitMs = w.to - w.from;
    if (longest >= waitMs / 2 && longestHoldOf) {
      oneHolder++;
      const h = longestHoldOf;
      commitShare.push((h.to - h.commit) / (h.to - h.from));
    }
    handovers.push(count);
    freeShare.push(Math.max(0, 1 - covered / waitMs));
    gaps.push(w.maxGapMs);
  }
  const med = (xs: number[]): number =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  return (
    `waits ≥ p99 (${tail.length}): one other hold for half of it or more in ${pctOf(oneHolder, tail.length)}` +
    (commitShare.length ? ` (its COMMIT median ${(med(commitShare) * 100).toFixed(0)} % of it); ` : '; ') +
    `holds by others during it median ${med(handovers)} (p90 ${percentile(
      handovers.sort((a, b) => a - b),
      90,
    )}); ` +
    `lock free median ${(med(freeShare) * 100).toFixed(0)} % of the wait; ` +
    `the waiter's longest gap between tries median ${med(gaps).toFixed(1)} ms`
  );
}

function pctOf(n: number, of: number): string {
  return `${((n / of) * 100).toFixed(0)} %`;
}

/** The first index whose value is ≥ x in ascending xs. */
function lowerBound(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runCase(
  processes: number,
  seconds: number,
  workload: Workload,
  variant: Variant,
): Promise<CaseResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-'));
  try {
    const file = seed(dir, JOBS);
    const kids = Array.from({ length: processes }, () =>
      fork(HERE, ['child', file, String(seconds), workload, variant], { execArgv: ['--import', 'tsx'] }),
    );
    const reports = kids.map(
      (k) =>
        new Promise<ChildReport>((resolve, reject) => {
          k.once('message', (m) => resolve(m as ChildReport));
          k.once('disconnect', () => reject(new Error('bench child closed its channel without a report')));
        }),
    );
    await new Promise((r) => setTimeout(r, 1500)); // let every child import and open before the start
    const t0 = performance.now();
    for (const k of kids) k.send('go');
    const all = await Promise.all(reports);
    const elapsed = (performance.now() - t0) / 1000;
    const cycles = all.reduce((s, r) => s + r.cycles, 0);
    const waits = all.flatMap((r) => r.waitsMs).sort((a, b) => a - b);
    const escaped = all.reduce((s, r) => s + Object.values(r.escaped).reduce((a, b) => a + b, 0), 0);
    const walMb = Math.max(...all.map((r) => r.walBytes)) / 1e6;
    const conn = new Database(file, { readonly: true });
    const multi =
      workload === 'queue'
        ? (conn.prepare('SELECT count(*) AS n FROM jobs WHERE attempts > 1').get() as { n: number }).n
        : 0;
    conn.close();
    const r = {
      cyclesPerS: cycles / elapsed,
      p50: percentile(waits, 50),
      p99: percentile(waits, 99),
      max: waits.at(-1) ?? 0,
    };
    const line = [
      `${processes} proc ${workload.padEnd(5)} ${variant.padEnd(6)} (load ${os.loadavg()[0].toFixed(1)})`,
      `${Math.round(r.cyclesPerS)} cycles/s`,
      `${Math.round((2 * cycles) / elapsed)} write tx/s`,
      `lock wait p50 ${r.p50.toFixed(3)} ms`,
      `p99 ${r.p99.toFixed(3)} ms`,
      `max ${r.max.toFixed(1)} ms`,
      `busy escaped ${escaped}`,
      `double claims ${multi}`,
      `WAL ${walMb.toFixed(1)} MB`,
      `shares ${all.map((x) => x.cycles).join('/')}`,
      longWaits(all),
    ].join(' | ');
    const tail = variant === 'after' ? tailWaits(all, r.p99) : '';
    return { ...r, line: tail ? `${line}\n      ${tail}` : line };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function baseline(seconds: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-'));
  const file = seed(dir, 0);
  const db = openDb({ name: 'state', path: file });
  let n = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    db.write(() => undefined);
    n++;
  }
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return `empty BEGIN IMMEDIATE/COMMIT through db.write, 1 proc: ${Math.round(n / seconds)} tx/s`;
}

/** Append ~targetMb of events without checkpointing, so the WAL holds them all. */
function fillWal(db: Db, targetMb: number): number {
  const payload = { blob: 'x'.repeat(3000) };
  while (db.walBytes() < targetMb * 1e6)
    db.write((c) => {
      for (let i = 0; i < 200; i++) appendEvent(c, { topic: 'bench', type: 'fill', payload }, i);
    });
  return db.walBytes() / 1e6;
}

/**
 * How long the WAL guard keeps other writers out on a WAL of `mb` MB: a second process tries BEGIN IMMEDIATE
 * back to back (no busy handler) and reports the longest time it could not get the lock.
 */
async function walGuardCase(mb: number, passiveFirst: boolean): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-'));
  try {
    const file = seed(dir, 0);
    const db = openDb({ name: 'state', path: file, busyTimeoutMs: 5000 });
    db.conn.pragma('wal_autocheckpoint = 0');
    const walMb = fillWal(db, mb);
    const prober = fork(HERE, ['probe', file], { execArgv: ['--import', 'tsx'] });
    await new Promise<void>((resolve) => prober.once('message', () => resolve()));
    const report = new Promise<{ maxOutMs: number }>((resolve) =>
      prober.once('message', (m) => resolve(m as { maxOutMs: number })),
    );
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    if (passiveFirst) walGuardTick(db, 0, silentLogger());
    else db.conn.pragma('wal_checkpoint(RESTART)');
    const guardMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
    prober.send('stop');
    const { maxOutMs } = await report;
    db.close();
    return (
      `WAL guard on a ${walMb.toFixed(0)} MB WAL, ${passiveFirst ? 'PASSIVE then RESTART' : 'RESTART at once  '}: ` +
      `tick ${guardMs.toFixed(0)} ms, other writers locked out for up to ${maxOutMs.toFixed(1)} ms`
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The prober of walGuardCase: BEGIN IMMEDIATE / ROLLBACK in a loop; the longest run of refusals. */
async function probe(file: string): Promise<void> {
  const conn = new Database(file);
  conn.pragma('busy_timeout = 0');
  let stop = false;
  process.once('message', () => (stop = true));
  process.send?.('ready');
  let lastOk = performance.now();
  let maxOutMs = 0;
  while (!stop) {
    try {
      conn.exec('BEGIN IMMEDIATE');
      conn.exec('ROLLBACK');
      const now = performance.now();
      maxOutMs = Math.max(maxOutMs, now - lastOk);
      lastOk = now;
    } catch {
      /* busy: keep trying */
    }
    await new Promise((r) => setImmediate(r));
  }
  conn.close();
  process.send?.({ maxOutMs }, () => process.disconnect());
}

async function main(): Promise<void> {
  if (process.argv[2] === 'probe') return probe(process.argv[3]);
  if (process.argv[2] === 'child')
    return child(
      process.argv[3],
      Number(process.argv[4]),
      process.argv[5] as Workload,
      process.argv[6] as Variant,
    );
  const seconds = Number(process.argv[2] ?? 4);
  const counts = (process.argv[3] ?? '1,2,4').split(',').map(Number);
  console.log(
    `node ${process.versions.node}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, ${seconds} s per case, ${JOBS} jobs seeded`,
  );
  const lines = [baseline(2)];
  const ratios: string[] = [];
  for (const n of counts) {
    // Interleaved so that load from other work on the machine hits both sides alike.
    const before = await runCase(n, seconds, 'queue', 'before');
    const after = await runCase(n, seconds, 'queue', 'after');
    const plain = await runCase(n, seconds, 'plain', 'after');
    const plainBefore = await runCase(n, seconds, 'plain', 'before');
    lines.push(before.line, after.line, plain.line, plainBefore.line);
    ratios.push(
      [
        `${n} proc`,
        `queue lock wait max ${after.max.toFixed(1)} ms (was ${before.max.toFixed(1)}: ×${(after.max / before.max).toFixed(3)})`,
        `p99 ${after.p99.toFixed(3)} ms (was ${before.p99.toFixed(3)}: ×${(after.p99 / before.p99).toFixed(2)})`,
        `plain max ${plain.max.toFixed(1)} ms (was ${plainBefore.max.toFixed(1)})`,
        `queue cycles = ${((100 * after.cyclesPerS) / plain.cyclesPerS).toFixed(0)} % of plain ` +
          `(${Math.round(after.cyclesPerS)} vs ${Math.round(plain.cyclesPerS)}/s; was ` +
          `${((100 * before.cyclesPerS) / plainBefore.cyclesPerS).toFixed(0)} %)`,
      ].join(' | '),
    );
  }
  const guard = [await walGuardCase(64, false), await walGuardCase(64, true)];
  console.log('\nratios (after = now; before = busy-handler lock wait and the bare-LIMIT claim):');
  for (const r of ratios) console.log(`  ${r}`);
  console.log('\ncases:');
  for (const l of lines) console.log(`  ${l}`);
  console.log('\nWAL guard (before: RESTART at once; after: PASSIVE first):');
  for (const l of guard) console.log(`  ${l}`);
}

await main();
