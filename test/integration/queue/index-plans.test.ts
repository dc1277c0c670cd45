// Every query that looks jobs up by state reads one of the two partial indexes (migration 0010): jobs_claim holds
// only queued and running jobs, jobs_finished only finished ones. SQLite uses a partial index only when the
// query repeats its WHERE term, so a query that forgets it still works, by scanning the whole table: on a
// host with a week of finished jobs that is every claim reading every row. The plans are checked on a real
// migrated database holding many finished jobs and a few unfinished ones, before and after ANALYZE.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextDueIn } from '../../../daemons/alert-dispatcher/delivery.js';
import { expiredRunning as mosaicExpiredRunning } from '../../../daemons/scheduler/mosaic/dispatch-store.js';
import { expiredRunning as conversionExpiredRunning } from '../../../daemons/streaming-converter/attempts.js';
import type { Connection } from '../../../lib/db/index.js';
import { queueStatements } from '../../../lib/queue/sql.js';
import { RETENTION_RULES } from '../../../lib/retention.js';
import { createStateDb } from '../../fixtures/queue/state-db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
let conn: Connection;
beforeEach(async () => {
  dir = makeTmpDir();
  conn = new Database(await createStateDb(dir));
  const insert = conn.prepare(
    `INSERT INTO jobs (queue, kind, state, run_at, finished_at, lease_expires_at, created_at, updated_at)
     VALUES (?, 'k', ?, 0, ?, ?, 0, 0)`,
  );
  conn.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run(`q${i % 3}`, ['done', 'dead', 'cancelled'][i % 3], i, null);
    for (let i = 0; i < 30; i++)
      insert.run(`q${i % 3}`, i % 2 ? 'queued' : 'running', null, i % 2 ? null : i);
  })();
});
afterEach(() => {
  conn.close();
  removeTmpDir(dir);
});

/** The SQL each call prepares on the connection (statement caches are per connection: a fresh one each time). */
function preparedBy(call: (c: Connection) => unknown): string[] {
  const seen: string[] = [];
  const recording = new Proxy(conn, {
    get(target, key) {
      if (key === 'prepare')
        return (sql: string) => {
          seen.push(sql);
          return target.prepare(sql);
        };
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  call(recording);
  return seen;
}

/** EXPLAIN QUERY PLAN's lines for sql, every parameter bound to 0. */
function plan(sql: string): string[] {
  const named = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]))];
  const positional = sql.split('?').length - 1;
  const stmt = conn.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = (
    named.length
      ? stmt.all(Object.fromEntries(named.map((n) => [n, 0])))
      : stmt.all(...Array(positional).fill(0))
  ) as { detail: string }[];
  return rows.map((r) => r.detail);
}

/** Plan lines that read the jobs table row by row without an index (as `jobs` or the aliases used: j, c). */
const tableScans = (lines: string[]): string[] =>
  lines.filter((l) => /^SCAN (jobs|j|c)\b/.test(l) && !l.includes('INDEX'));

// What, the statements it runs (how many: a call that returns early would prepare fewer), the indexes read.
const cases: [string, () => string[], number, string[]][] = [
  ['the claim', () => [queueStatements(conn).claim.source], 1, ['jobs_claim']],
  ['"is anything due"', () => [queueStatements(conn).claimable.source], 1, ['jobs_claim']],
  [
    'the counts by queue and state',
    () => [queueStatements(conn).stats.source],
    1,
    ['jobs_claim', 'jobs_finished'],
  ],
  ['the queue prune', () => [queueStatements(conn).prune.source], 1, ['jobs_finished', 'jobs_parent']],
  [
    'the retention rules for jobs',
    () => RETENTION_RULES.filter((r) => r.table === 'jobs').map((r) => r.sql),
    2,
    ['jobs_finished', 'jobs_parent'],
  ],
  [
    "the converter's expired-lease check",
    () => preparedBy((c) => conversionExpiredRunning(c, 'q0', 1)),
    1,
    ['jobs_claim'],
  ],
  [
    "the mosaic dispatcher's expired-lease check",
    () => preparedBy((c) => mosaicExpiredRunning(c, 'q0', 1)),
    1,
    ['jobs_claim'],
  ],
  [
    "the alert dispatcher's next-due read",
    () => preparedBy((c) => nextDueIn(c, 'q1', -1)),
    2,
    ['jobs_claim'],
  ],
];

describe('queries on jobs by state read the partial indexes, never the whole table', () => {
  for (const analyzed of [false, true])
    for (const [what, sqlOf, statements, indexes] of cases)
      it(`${what}${analyzed ? ', after ANALYZE' : ''}`, () => {
        if (analyzed) conn.exec('ANALYZE');
        const sqls = sqlOf();
        expect(sqls).toHaveLength(statements);
        for (const sql of sqls) {
          const lines = plan(sql);
          expect(tableScans(lines), `${sql}\n${lines.join('\n')}`).toEqual([]);
          for (const index of indexes) expect(lines.join('\n'), sql).toContain(index);
        }
      });
});
