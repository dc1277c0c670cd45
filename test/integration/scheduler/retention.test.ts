// Retention: a year of simulated traffic (events, queue jobs, alerts and their history, scheduler runs,
// health transitions) with the daily prune does not grow the state database past what the retention
// settings allow; batches stay small enough that another writer is never held up for long; the lease keeps
// two pruners apart.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { raiseAlert, resolveAlert } from '../../../lib/alerts/index.js';
import { ManualClock } from '../../../lib/clock.js';
import { parseConfig } from '../../../lib/config/index.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { appendEvent } from '../../../lib/events/index.js';
import { acquireLease } from '../../../lib/leases/index.js';
import { RETENTION_LEASE, runRetention } from '../../../lib/retention.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir = '';
const dbs: Db[] = [];
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
  removeTmpDir(dir);
});

const DAY = 86_400_000;
const RATE = { events: 1000, jobs: 40, dead: 2, alerts: 6, runs: 300, health: 12 };

function retentionConfig(extra: Record<string, unknown> = {}) {
  return parseConfig(
    {
      dataDir: '/d',
      databases: { state: 's', pipeline: 'p' },
      retention: { batchPauseMs: 0, batchSize: 1000, ...extra },
    },
    '/d',
  ).retention;
}

/** One simulated day of traffic ending at `end`. */
function day(db: Db, end: number, d: number): void {
  db.write((c) => {
    const at = (i: number, n: number) => end - DAY + Math.floor(((i + 0.5) * DAY) / n);
    for (let i = 0; i < RATE.events; i++)
      appendEvent(
        c,
        { topic: 'converter', type: 'group.converted', payload: { group: `${d}-${i}` } },
        at(i, RATE.events),
      );
    const job = c.prepare(
      `INSERT INTO jobs (queue, kind, payload, run_at, state, attempts, created_at, finished_at, updated_at)
       VALUES ('conversions', 'convert', '{}', ?, ?, 1, ?, ?, ?)`,
    );
    for (let i = 0; i < RATE.jobs + RATE.dead; i++) {
      const t = at(i, RATE.jobs + RATE.dead);
      job.run(t, i < RATE.jobs ? 'done' : 'dead', t, t, t);
    }
    for (let i = 0; i < RATE.alerts; i++) {
      const labels = { n: `${d}-${i}` };
      raiseAlert(c, { alertname: 'Sim', severity: 'warning', labels, source: 'test' }, at(i, RATE.alerts));
      resolveAlert(c, { alertname: 'Sim', labels }, at(i, RATE.alerts) + 60_000);
    }
    const run = c.prepare(
      `INSERT INTO job_runs (job, trigger, scheduled_for, started_at, finished_at, duration_ms, result, summary, owner)
       VALUES ('health', 'cron', ?, ?, ?, 100, 'ok', '{"overall":"healthy","targets":12}', 'h:1:s:000000')`,
    );
    for (let i = 0; i < RATE.runs; i++) run.run(at(i, RATE.runs), at(i, RATE.runs), at(i, RATE.runs) + 100);
    const h = c.prepare(
      `INSERT INTO health_history (target_id, at, from_status, to_status, detail) VALUES ('http:x', ?, 'ok', 'crit', 'ECONNREFUSED')`,
    );
    for (let i = 0; i < RATE.health; i++) h.run(at(i, RATE.health));
  });
}

const count = (db: Db, sql: string): number => (db.conn.prepare(sql).get() as { n: number }).n;

function fileBytes(db: Db): number {
  db.checkpoint('truncate');
  return fs.statSync(db.path).size;
}

describe('retention', () => {
  it('a year of traffic stays within the retention windows', async () => {
    dir = makeTmpDir('contimg-retention-');
    const { statePath } = await freshDatabases(path.join(dir, 'db'));
    const db = openDb({ name: 'state', path: statePath });
    dbs.push(db);
    const config = retentionConfig();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const clock = new ManualClock(t0);
    const sizes: number[] = [];
    const removed: Record<string, number> = {};
    for (let d = 1; d <= 365; d++) {
      clock.set(t0 + d * DAY);
      day(db, clock.now(), d);
      const r = await runRetention({ db, config, clock });
      for (const [t, n] of Object.entries(r.removed)) removed[t] = (removed[t] ?? 0) + n;
      if (d % 10 === 0 || d === 365) sizes[d] = fileBytes(db);
    }
    // What the settings allow: the window (plus the day being written) times the daily rate.
    expect(count(db, 'SELECT count(*) AS n FROM events')).toBeLessThanOrEqual(
      (config.eventsDays + 1) * RATE.events + RATE.alerts * 2 * (config.eventsDays + 1),
    );
    expect(count(db, "SELECT count(*) AS n FROM jobs WHERE state = 'done'")).toBeLessThanOrEqual(
      (config.jobsDays + 1) * RATE.jobs,
    );
    expect(count(db, "SELECT count(*) AS n FROM jobs WHERE state = 'dead'")).toBeLessThanOrEqual(
      (config.deadJobsDays + 1) * RATE.dead,
    );
    expect(count(db, 'SELECT count(*) AS n FROM alerts')).toBeLessThanOrEqual(
      (config.alertHistoryDays + 1) * RATE.alerts,
    );
    expect(count(db, 'SELECT count(*) AS n FROM alert_events')).toBeLessThanOrEqual(
      (config.alertHistoryDays + 1) * RATE.alerts * 2,
    );
    expect(count(db, 'SELECT count(*) AS n FROM job_runs')).toBeLessThanOrEqual(
      (config.jobRunsDays + 1) * RATE.runs,
    );
    expect(count(db, 'SELECT count(*) AS n FROM health_history')).toBeLessThanOrEqual(
      (config.healthHistoryDays + 1) * RATE.health,
    );
    expect(count(db, 'SELECT min(created_at) AS n FROM events')).toBeGreaterThanOrEqual(
      clock.now() - config.eventsDays * DAY,
    );
    // And the file levels off once the longest window (alert history, 180 days) is full.
    expect(sizes[365]).toBeLessThanOrEqual(sizes[200] * 1.1);
    expect(sizes[365]).toBeLessThan(sizes[100] * 2);
    expect(removed.events).toBeGreaterThan(300 * RATE.events);
    expect(removed.alert_events).toBeGreaterThan(0);
    expect(removed.alerts).toBeGreaterThan(0);
  }, 120_000);

  it('prunes in small batches while another writer keeps going; one pruner at a time', async () => {
    dir = makeTmpDir('contimg-retention-');
    const { statePath } = await freshDatabases(path.join(dir, 'db'));
    const db = openDb({ name: 'state', path: statePath });
    const other = openDb({ name: 'state', path: statePath, busyTimeoutMs: 5000 });
    dbs.push(db, other);
    const old = Date.now() - 100 * DAY;
    db.write((c) => {
      const ins = c.prepare(
        "INSERT INTO events (topic, type, payload, created_at) VALUES ('t', 'x', '{}', ?)",
      );
      for (let i = 0; i < 60_000; i++) ins.run(old + i);
    });
    const waits: number[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const t = performance.now();
        await other.writeAsync((c) =>
          c
            .prepare("INSERT INTO events (topic, type, payload, created_at) VALUES ('t', 'y', '{}', ?)")
            .run(Date.now()),
        );
        waits.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const r = await runRetention({
      db,
      config: retentionConfig({ batchSize: 500, batchPauseMs: 5 }),
      clock: { now: () => Date.now(), monotonic: () => performance.now() },
    });
    writing = false;
    await writer;
    expect(r.removed.events).toBe(60_000);
    expect(r.batches).toBeGreaterThanOrEqual(120);
    expect(waits.length).toBeGreaterThan(20);
    expect(Math.max(...waits)).toBeLessThan(1_000);

    const token = acquireLease(db, RETENTION_LEASE, 'someone:1:retention:abcdef', 60_000, Date.now());
    expect(token).not.toBeNull();
    await expect(
      runRetention({
        db,
        config: retentionConfig(),
        clock: { now: () => Date.now(), monotonic: () => performance.now() },
      }),
    ).rejects.toThrow(/retention lease is held/);
  });
});
