// Mosaic dispatch tests: real state SQLite (migrated to head), a config parsed by the real schema, plans and
// their `mosaic` jobs inserted the way the planner does (until the planner lands, the tests play it), and a
// fake builder (test/fixtures/mosaic/fake-builder.mjs) run as a real child process under the supervisor.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../../lib/clock.js';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import { silentLogger } from '../../../lib/log.js';
import { createRegistry, type Registry } from '../../../lib/metrics.js';
import type { MosaicTier } from '../../../lib/mosaic/manifest.js';
import { enqueueBuild } from '../../../daemons/scheduler/mosaic/dispatch-jobs.js';
import { MosaicDispatcher } from '../../../daemons/scheduler/mosaic/dispatch.js';
import { REPO_ROOT } from '../../helpers/tmp.js';
import { schedulerEnv, type SchedulerEnv } from '../scheduler/helpers.js';

export const FAKE_BUILDER = path.join(REPO_ROOT, 'test/fixtures/mosaic/fake-builder.mjs');

export interface BuilderOpts {
  mode: string;
  timeoutS?: number;
  killGraceS?: number;
  maxAttempts?: number;
  retryBaseS?: number;
  retryMaxS?: number;
  leaseS?: number;
  minFreeGbOutput?: number;
  /** builder.executor (default local). */
  executor?: Record<string, unknown>;
}

export function mosaicConfigExtra(dir: string, o: BuilderOpts): Record<string, unknown> {
  return {
    scheduler: {
      mosaic: {
        outputDir: path.join(dir, 'mosaics'),
        scratchDir: path.join(dir, 'scratch'),
        tiers: { quicklook: { timeoutS: o.timeoutS ?? 60 }, science: { timeoutS: o.timeoutS ?? 60 } },
        builder: {
          argv: [process.execPath, FAKE_BUILDER, '--manifest', '{manifest}', '--result', '{result}'],
          env: { FAKE_BUILDER_MODE: o.mode },
          killGraceS: o.killGraceS ?? 2,
          maxAttempts: o.maxAttempts ?? 3,
          retryBaseS: o.retryBaseS ?? 1,
          retryMaxS: o.retryMaxS ?? 2,
          leaseS: o.leaseS ?? 3,
          minFreeGbOutput: o.minFreeGbOutput ?? 0,
          minFreeGbScratch: 0,
          // What the test machine (and its one-node Slurm) can give a job.
          memoryMaxGb: 0.25,
          cpus: 1,
          ...(o.executor && { executor: o.executor }),
        },
      },
    },
  };
}

export interface MosaicEnv extends SchedulerEnv {
  cfg: MosaicConfig;
  /** A read-write connection for the test's own inserts and checks. */
  sql: Database.Database;
}

export async function mosaicEnv(
  dir: string,
  o: BuilderOpts,
  opts: { clock?: Clock } = {},
): Promise<MosaicEnv> {
  const env = await schedulerEnv(dir, mosaicConfigExtra(dir, o), opts);
  const sql = new Database(env.statePath);
  sql.pragma('busy_timeout = 10000');
  const close = env.close.bind(env);
  return {
    ...env,
    cfg: env.config.scheduler.mosaic,
    sql,
    close() {
      sql.close();
      close();
    },
  };
}

const GRID = {
  frame: 'ICRS',
  projection: 'SIN',
  center: { ra: 150, dec: 55.6 },
  pixel_arcsec: 6,
  nx: 400,
  ny: 200,
};

/** Insert a plan with two inputs and its `mosaic` job, as the planner does; returns the plan id. */
export function insertPlan(
  env: MosaicEnv,
  o: { name?: string; tier?: MosaicTier; strip?: number; now?: number; grid?: object | null } = {},
): number {
  const now = o.now ?? Date.now();
  const tier = o.tier ?? 'quicklook';
  const name = o.name ?? `${tier}_d+55.6_20261203T1200_1300`;
  const windowStart = Date.UTC(2026, 11, 3, 12);
  const id = Number(
    env.sql
      .prepare(
        `INSERT INTO mosaic_plans (name, base_name, tier, trigger, strip_dec_deg, frame, window_start, window_end,
           n_candidates, n_selected, inputs_hash, grid_json, est_memory_bytes, state, created_at, updated_at)
         VALUES (?, ?, ?, 'cron', ?, 'ICRS', ?, ?, 2, 2, ?, ?, 1000000, 'queued', ?, ?)`,
      )
      .run(
        name,
        name,
        tier,
        o.strip ?? 55.6,
        windowStart,
        windowStart + 3_600_000,
        'a'.repeat(64),
        o.grid === null ? null : JSON.stringify(o.grid ?? GRID),
        now,
        now,
      ).lastInsertRowid,
  );
  for (const ord of [0, 1]) {
    const p = path.join(env.dir, 'images', `tile${ord}.image.fits`);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, 'x');
    env.sql
      .prepare(
        `INSERT INTO mosaic_plan_inputs (plan_id, ord, path, size, mtime_ns, ino, obs_mid, ra_deg, dec_deg, noise_jy, kind)
         VALUES (?, ?, ?, 1, '1764763200000000000', 1, ?, ?, 55.6, 0.001, 'image')`,
      )
      .run(id, ord, p, windowStart + ord * 309_000, 150 + ord * 1.291);
  }
  env.ctx.state.write((conn) => enqueueBuild(conn, { id, tier }, env.cfg.builder.maxAttempts, now));
  return id;
}

export interface Running {
  d: MosaicDispatcher;
  registry: Registry;
  stop(): Promise<void>;
}

/** Start a dispatcher in this process (the scheduler's wiring, without the scheduler). */
export function startDispatcher(
  env: MosaicEnv,
  hooks: { freeBytes?: (p: string) => number; gateEveryMs?: number } = {},
): Running {
  const ac = new AbortController();
  const registry = createRegistry({ daemon: 'scheduler', defaultMetrics: false });
  const d = new MosaicDispatcher({
    cfg: env.cfg,
    db: env.ctx.state,
    clock: env.ctx.clock,
    log: silentLogger(),
    registry,
    signal: ac.signal,
    hooks: { ...hooks, baseEnv: process.env },
  });
  const done = d.run();
  return {
    d,
    registry,
    async stop() {
      ac.abort();
      await done;
    },
  };
}

export interface PlanView {
  state: string;
  attempts: number;
  error_code: string | null;
}

export const planOf = (env: MosaicEnv, id: number): PlanView =>
  env.sql.prepare('SELECT state, attempts, error_code FROM mosaic_plans WHERE id = ?').get(id) as PlanView;

export interface AttemptView {
  attempt: number;
  outcome: string | null;
  ended_at: number | null;
  pid: number | null;
  exit_code: number | null;
  signal: string | null;
  error_code: string | null;
  stderr_tail: string | null;
  started_at: number;
}

export const attemptsOf = (env: MosaicEnv, id: number): AttemptView[] =>
  env.sql
    .prepare('SELECT * FROM mosaic_attempts WHERE plan_id = ? ORDER BY attempt')
    .all(id) as AttemptView[];

export const jobOf = (env: MosaicEnv, id: number) =>
  env.sql.prepare('SELECT j.* FROM jobs j JOIN mosaic_plans p ON p.job_id = j.id WHERE p.id = ?').get(id) as {
    state: string;
    attempts: number;
    run_at: number;
    updated_at: number;
  };

export const alertsNamed = (env: MosaicEnv, name: string) =>
  (
    env.sql
      .prepare('SELECT severity, status, labels, annotations FROM alerts WHERE alertname = ?')
      .all(name) as {
      severity: string;
      status: string;
      labels: string;
      annotations: string;
    }[]
  ).map((a) => ({
    ...a,
    labels: JSON.parse(a.labels) as Record<string, string>,
    annotations: JSON.parse(a.annotations) as Record<string, string>,
  }));

export const eventsOf = (env: MosaicEnv, type: string) =>
  (
    env.sql.prepare('SELECT payload FROM events WHERE type = ? ORDER BY seq').all(type) as {
      payload: string;
    }[]
  ).map((e) => JSON.parse(e.payload) as Record<string, unknown>);
