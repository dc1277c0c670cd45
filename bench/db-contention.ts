// Write throughput and lock wait with 1, 2 and 4 processes on one WAL file, before and after in one run.
// Each process runs cycles of two BEGIN IMMEDIATE write transactions for a fixed time:
//   queue  – claim + complete through lib/queue (the `jobs` table, four indexes, the full row returned);
//   plain  – the same two steps as bare single-index statements on a narrow table (the scale for queue).
// Each workload runs as the code is now ("after": db.write polls for the lock with SQLite's busy handler off;
// the claim's LIMIT is CAST; the queue's state indexes partial, migration 0010) and as it was ("before":
// BEGIN IMMEDIATE waiting in SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between tries, a bare
// `LIMIT @limit` that re-prepared the claim on every call, and both state indexes over every row). The queue
// also runs as now but with the indexes as before 0010 ("wide"): the partial indexes' own effect.
// Prints ratios first (after/before lock-wait max and p99, after/wide, queue/plain cycles), then every case:
// cycles/s, write tx/s, p50/p99/max lock wait, SQLITE_BUSY that escaped, double claims, WAL size, shares;
// for the polling wait, the waits at or over the p99 against every process's holds of the lock meanwhile
// (one other hold for most of the wait: a holder off its core or a long COMMIT; many: the lock passed from
// hand to hand past the waiter); those measurements are in bench/lock-waits.ts.
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
import {
  longWaits,
  measureLockWait,
  percentile,
  tailWaits,
  type ChildReport,
  type LongWait,
  type TailWait,
} from './lock-waits.js';

const HERE = fileURLToPath(import.meta.url);
const MIGRATIONS = path.join(path.dirname(HERE), '..', 'migrations', 'state');
/** The migrations the bench's tables need: the platform tables, and the queue's partial indexes. */
const PLATFORM = '0001_platform.up.sql';
const PARTIAL_INDEXES = '0010_jobs_unfinished_indexes.up.sql';
const JOBS = 200_000;

type Workload = 'queue' | 'plain';
type Variant = 'after' | 'before' | 'wide';

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
  process.send?.({ cycles, escaped, walBytes, ...report } satisfies ChildReport, () => process.disconnect());
}

function seed(dir: string, jobs: number, partialIndexes = true): string {
  const file = path.join(dir, 'state.sqlite3');
  const conn = new Database(file);
  conn.pragma('journal_mode = WAL');
  for (const f of partialIndexes ? [PLATFORM, PARTIAL_INDEXES] : [PLATFORM])
    conn.exec(fs.readFileSync(path.join(MIGRATIONS, f), 'utf8'));
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

async function runCase(
  processes: number,
  seconds: number,
  workload: Workload,
  variant: Variant,
): Promise<CaseResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-'));
  try {
    const file = seed(dir, JOBS, variant === 'after');
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
      longWaits(all, variant !== 'before'),
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
    const wide = await runCase(n, seconds, 'queue', 'wide');
    const after = await runCase(n, seconds, 'queue', 'after');
    const plain = await runCase(n, seconds, 'plain', 'after');
    const plainBefore = await runCase(n, seconds, 'plain', 'before');
    lines.push(before.line, wide.line, after.line, plain.line, plainBefore.line);
    ratios.push(
      [
        `${n} proc`,
        `queue lock wait max ${after.max.toFixed(1)} ms (was ${before.max.toFixed(1)}: ×${(after.max / before.max).toFixed(3)})`,
        `p99 ${after.p99.toFixed(3)} ms (was ${before.p99.toFixed(3)}: ×${(after.p99 / before.p99).toFixed(2)})`,
        `partial/wide indexes: p99 ×${(after.p99 / wide.p99).toFixed(2)} (${wide.p99.toFixed(3)} ms wide), ` +
          `max ×${(after.max / wide.max).toFixed(2)}, queue cycles ×${(after.cyclesPerS / wide.cyclesPerS).toFixed(2)}`,
        `plain max ${plain.max.toFixed(1)} ms (was ${plainBefore.max.toFixed(1)})`,
        `queue cycles = ${((100 * after.cyclesPerS) / plain.cyclesPerS).toFixed(0)} % of plain ` +
          `(${Math.round(after.cyclesPerS)} vs ${Math.round(plain.cyclesPerS)}/s; was ` +
          `${((100 * before.cyclesPerS) / plainBefore.cyclesPerS).toFixed(0)} %)`,
      ].join(' | '),
    );
  }
  const guard = [await walGuardCase(64, false), await walGuardCase(64, true)];
  console.log(
    '\nratios (after = now; before = busy-handler lock wait, the bare-LIMIT claim, full state indexes; ' +
      'wide = now but with the full state indexes):',
  );
  for (const r of ratios) console.log(`  ${r}`);
  console.log('\ncases:');
  for (const l of lines) console.log(`  ${l}`);
  console.log('\nWAL guard (before: RESTART at once; after: PASSIVE first):');
  for (const l of guard) console.log(`  ${l}`);
}

await main();
