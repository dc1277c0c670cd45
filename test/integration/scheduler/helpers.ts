// Scheduler tests: real state and pipeline SQLite files in a temp folder, a config parsed by the real
// schema, and a SchedulerContext the way the daemon builds it (optionally with a ManualClock).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import YAML from 'yaml';
import { systemClock, type Clock } from '../../../lib/clock.js';
import { parseConfig, type Config } from '../../../lib/config/index.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { leaseOwner } from '../../../lib/leases/index.js';
import { silentLogger } from '../../../lib/log.js';
import { createRegistry, type Registry } from '../../../lib/metrics.js';
import type { SchedulerContext } from '../../../daemons/scheduler/context.js';
import { schedulerMetrics } from '../../../daemons/scheduler/metrics.js';
import { freshDatabases } from '../../helpers/db.js';

export interface SchedulerEnv {
  dir: string;
  config: Config;
  configFile: string;
  statePath: string;
  pipelinePath: string;
  ctx: SchedulerContext;
  registry: Registry;
  /** A writable connection to the pipeline database (the tests play the imaging pipeline). */
  pipelineRw: Database.Database;
  close(): void;
}

/** Merge `extra` into a base config (nested objects merged, arrays replaced). */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export function rawConfig(
  dir: string,
  statePath: string,
  pipelinePath: string,
  extra: Record<string, unknown> = {},
) {
  return merge(
    {
      dataDir: dir,
      databases: { state: statePath, pipeline: pipelinePath },
      log: { level: 'warn' },
      scheduler: { port: 0, health: { systemd: { units: [] }, http: [], gpu: { enabled: false } } },
    },
    extra,
  );
}

export async function schedulerEnv(
  dir: string,
  extra: Record<string, unknown> = {},
  opts: { clock?: Clock; env?: NodeJS.ProcessEnv; pipelineJournal?: 'wal' | 'delete' } = {},
): Promise<SchedulerEnv> {
  const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
  if (opts.pipelineJournal === 'delete') {
    // A pipeline file in rollback-journal mode, where an exclusive transaction shuts readers out.
    const c = new Database(pipelinePath);
    c.pragma('journal_mode = DELETE');
    c.close();
  }
  const raw = rawConfig(dir, statePath, pipelinePath, extra);
  const configFile = path.join(dir, 'contimg.yaml');
  fs.writeFileSync(configFile, YAML.stringify(raw));
  const config = parseConfig(raw, dir);
  const state: Db = openDb({
    name: 'state',
    path: statePath,
    withReader: true,
    busyTimeoutMs: config.databases.busyTimeoutMs,
  });
  const pipeline: Db = openDb({
    name: 'pipeline',
    path: pipelinePath,
    readonly: true,
    busyTimeoutMs: config.databases.busyTimeoutMs,
  });
  const registry = createRegistry({ daemon: 'scheduler', defaultMetrics: false });
  const pipelineRw = new Database(pipelinePath);
  const ctx: SchedulerContext = {
    config,
    state,
    pipeline,
    clock: opts.clock ?? systemClock,
    log: silentLogger(),
    metrics: schedulerMetrics(registry),
    env: opts.env ?? { ...process.env },
    owner: leaseOwner('test'),
    host: 'testhost',
  };
  return {
    dir,
    config,
    configFile,
    statePath,
    pipelinePath,
    ctx,
    registry,
    pipelineRw,
    close() {
      pipelineRw.close();
      pipeline.close();
      state.close();
    },
  };
}

/** One metric sample's value from the registry ("name{a=\"b\"}" exactly as exposed), or undefined. */
export async function sample(registry: Registry, series: string): Promise<number | undefined> {
  const text = await registry.metrics();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    if (line.slice(0, i) !== series) continue;
    const v = line.slice(i + 1);
    return v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
  }
  return undefined;
}

export interface AlertState {
  alertname: string;
  severity: string;
  status: string;
  episode: number;
  labels: Record<string, string>;
}

export function alertsIn(statePath: string): AlertState[] {
  const db = new Database(statePath, { readonly: true });
  try {
    return (
      db
        .prepare('SELECT alertname, severity, status, episode, labels FROM alerts ORDER BY alertname, labels')
        .all() as (Omit<AlertState, 'labels'> & { labels: string })[]
    ).map((r) => ({ ...r, labels: JSON.parse(r.labels) as Record<string, string> }));
  } finally {
    db.close();
  }
}

export function firing(statePath: string): string[] {
  return alertsIn(statePath)
    .filter((a) => a.status === 'firing')
    .map((a) => {
      const { alertname: _a, host: _h, ...rest } = a.labels;
      void _a;
      void _h;
      const l = Object.values(rest).join(',');
      return `${a.alertname}${l ? `{${l}}` : ''}:${a.severity}`;
    })
    .sort();
}

export const mjdOf = (ms: number): number => ms / 86_400_000 + 40587;

export interface RunRow {
  id: number;
  job: string;
  trigger: string;
  result: string;
  scheduled_for: number | null;
  duration_ms: number | null;
  owner: string;
  error: string | null;
}

/** The job_runs rows (optionally of one job), oldest first, read from the file by a separate connection. */
export function jobRuns(statePath: string, job?: string): RunRow[] {
  const db = new Database(statePath, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT id, job, trigger, result, scheduled_for, duration_ms, owner, error FROM job_runs
         WHERE (? IS NULL OR job = ?) ORDER BY id`,
      )
      .all(job ?? null, job ?? null) as RunRow[];
  } finally {
    db.close();
  }
}
