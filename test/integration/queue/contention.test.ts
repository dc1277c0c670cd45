// Four forked workers drain 5,000 jobs from one WAL database.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { enqueue, type WorkerSummary } from '../../../lib/queue/index.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

interface Report {
  ready?: true;
  owner: string;
  summary: WorkerSummary;
  errorLines: number;
  busyTimeouts: number;
  dbErrors: number;
  claims: number;
}

const JOBS = 5000;
let dir: string;
let file: string;
let db: Db;
const children: Forked<Report>[] = [];
beforeEach(async () => {
  ({ dir, file, db } = await setUpStateDb());
});
afterEach(() => tearDownStateDb({ dir, db }, children));

describe('multi-process contention', () => {
  it('4 processes drain 5,000 jobs: all done once, no busy errors, counts add up', async () => {
    for (let i = 0; i < 4; i++) children.push(forkFixture<Report>('drain-child.ts', [file, `p${i}`, '4']));
    // Enqueue once every worker is up and idle, so all four start draining together (woken by data_version).
    await waitFor(() => children.every((f) => f.messages.some((m) => m.ready)), { what: 'workers ready' });
    db.write((c) => {
      for (let n = 0; n < JOBS; n++) enqueue(c, { queue: 'drain', kind: 'noop', payload: { n } }, Date.now());
    });
    const count = (state: string): number =>
      (
        db.read((c) => c.prepare('SELECT count(*) AS n FROM jobs WHERE state = ?').get(state)) as {
          n: number;
        }
      ).n;
    await waitFor(() => count('done') === JOBS, {
      timeoutMs: 100_000,
      intervalMs: 100,
      what: 'all jobs done',
    });
    for (const f of children) f.child.send('stop');
    const codes = await Promise.all(children.map((f) => f.exited));
    expect(codes, children.map((f) => f.stderr()).join('\n')).toEqual([0, 0, 0, 0]);

    const reports = children.map((f) => f.messages.find((m) => !m.ready)!);
    for (const r of reports) {
      expect(r.summary).toMatchObject({ errors: 0, leaseLost: 0, retried: 0, dead: 0, released: 0 });
      expect(r).toMatchObject({ errorLines: 0, busyTimeouts: 0, dbErrors: 0 });
      expect(r.claims).toBe(r.summary.done);
      expect(r.summary.done).toBeGreaterThan(0);
    }
    expect(reports.reduce((s, r) => s + r.summary.done, 0)).toBe(JOBS);
    // Every job ran exactly once, and its result names the process that recorded it.
    const rows = db.read((c) =>
      c.prepare('SELECT attempts, lease_owner, result FROM jobs ORDER BY id').all(),
    ) as { attempts: number; lease_owner: string; result: string }[];
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    expect(rows.every((r) => (JSON.parse(r.result) as { by: string }).by === r.lease_owner)).toBe(true);
    const perOwner = new Map<string, number>();
    for (const r of rows) perOwner.set(r.lease_owner, (perOwner.get(r.lease_owner) ?? 0) + 1);
    for (const r of reports) expect(perOwner.get(r.owner) ?? 0).toBe(r.summary.done);
  }, 150_000);
});
