// Write throughput and lock wait with 1, 2 and 4 processes on one WAL file: each process runs
// claim+complete cycles through lib/queue (two BEGIN IMMEDIATE write transactions per cycle) for a fixed
// time. Prints cycles/s, write transactions/s, p50/p99/max lock wait, SQLITE_BUSY that escaped, and the
// WAL size. Run by hand: `npx tsx bench/db-contention.ts [seconds]` (never part of npm test).
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openDb, type Db } from '../lib/db/index.js';
import { enqueue, SqliteQueueStore } from '../lib/queue/index.js';

const HERE = fileURLToPath(import.meta.url);
const MIGRATION = path.join(path.dirname(HERE), '..', 'migrations', 'state', '0001_platform.up.sql');

interface ChildReport {
  cycles: number;
  escaped: Record<string, number>;
  waitsMs: number[];
  walBytes: number;
}

/** Time from calling db.write until its function runs: the lock wait (BEGIN IMMEDIATE has the lock then). */
function measureLockWait(db: Db, waits: number[]): void {
  const write = db.write.bind(db);
  db.write = <T>(fn: (c: Database.Database) => T): T => {
    const t0 = performance.now();
    return write((c) => {
      waits.push(performance.now() - t0);
      return fn(c);
    });
  };
}

async function child(file: string, seconds: number): Promise<void> {
  const db = openDb({ name: 'state', path: file, busyTimeoutMs: 5000, writeBudgetMs: 15_000 });
  const store = new SqliteQueueStore(db);
  const waitsMs: number[] = [];
  measureLockWait(db, waitsMs);
  const escaped: Record<string, number> = {};
  let cycles = 0;
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const until = performance.now() + seconds * 1000;
  const owner = `bench:${process.pid}`;
  while (performance.now() < until) {
    try {
      const [job] = store.claim({ queue: 'bench', owner, leaseMs: 60_000 });
      if (!job) break;
      store.complete(job.lease);
      cycles++;
    } catch (e) {
      const code = String((e as { code?: unknown }).code ?? (e as Error).name);
      escaped[code] = (escaped[code] ?? 0) + 1;
    }
  }
  const walBytes = db.walBytes();
  db.close();
  // Disconnect only once the report is flushed: disconnecting at once can drop a large message.
  process.send?.({ cycles, escaped, waitsMs, walBytes } satisfies ChildReport, () => process.disconnect());
}

function seed(dir: string, jobs: number): string {
  const file = path.join(dir, 'state.sqlite3');
  const conn = new Database(file);
  conn.pragma('journal_mode = WAL');
  conn.exec(fs.readFileSync(MIGRATION, 'utf8'));
  conn.close();
  const db = openDb({ name: 'state', path: file });
  const now = Date.now();
  for (let done = 0; done < jobs; done += 10_000)
    db.write((c) => {
      for (let i = 0; i < 10_000; i++)
        enqueue(c, { queue: 'bench', kind: 'noop', payload: { i: done + i } }, now);
    });
  db.checkpoint('truncate');
  db.close();
  return file;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runCase(processes: number, seconds: number, jobs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-'));
  try {
    const file = seed(dir, jobs);
    const kids = Array.from({ length: processes }, () =>
      fork(HERE, ['child', file, String(seconds)], { execArgv: ['--import', 'tsx'] }),
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
    const multi = (conn.prepare('SELECT count(*) AS n FROM jobs WHERE attempts > 1').get() as { n: number })
      .n;
    conn.close();
    console.log(
      [
        `${processes} proc`,
        `${Math.round(cycles / elapsed)} cycles/s`,
        `${Math.round((2 * cycles) / elapsed)} write tx/s`,
        `lock wait p50 ${percentile(waits, 50).toFixed(3)} ms`,
        `p99 ${percentile(waits, 99).toFixed(3)} ms`,
        `max ${(waits.at(-1) ?? 0).toFixed(1)} ms`,
        `busy escaped ${escaped}`,
        `double claims ${multi}`,
        `WAL ${walMb.toFixed(1)} MB`,
        `shares ${all.map((r) => r.cycles).join('/')}`,
      ].join(' | '),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function baseline(seconds: number): void {
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
  console.log(`baseline: empty BEGIN IMMEDIATE/COMMIT, 1 proc: ${Math.round(n / seconds)} tx/s`);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'child') return child(process.argv[3], Number(process.argv[4]));
  const seconds = Number(process.argv[2] ?? 5);
  console.log(
    `node ${process.versions.node}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  baseline(2);
  for (const n of [1, 2, 4]) await runCase(n, seconds, 200_000);
}

await main();
