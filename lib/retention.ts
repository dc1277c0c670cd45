// Retention: the one task that keeps the state database's history tables bounded. The scheduler's daily
// `retention` job and `contimg retention run` both call runRetention(). Rows older than the `retention`
// config's ages go in batches of `batchSize`, one short BEGIN IMMEDIATE each (db.writeAsync, so a lock held
// elsewhere never stalls the event loop), with a pause between batches that leaves the lock to the daemons.
// Only the holder of the `retention` lease prunes, so two callers never walk the same rows at once.
// A table that needs retention adds a rule here (and a key to the `retention` config section).
import type { Clock } from './clock.js';
import { sleep } from './clock.js';
import type { RetentionConfig } from './config/sections/retention.js';
import { cachedStatement, type Db } from './db/index.js';
import { InvalidStateError } from './errors.js';
import { leaseOwner, withLease } from './leases/index.js';
import type { Logger } from './log.js';
import { Counter, once, type Registry } from './metrics.js';

export const RETENTION_LEASE = 'retention';

export interface RetentionRule {
  /** The table whose rows the rule deletes (several rules may share one). */
  table: string;
  /** Days to keep; 0 keeps everything. */
  keepDays: (c: RetentionConfig) => number;
  /** Deletes at most @batch rows older than @cutoff (Unix ms); must not touch unfinished work. */
  sql: string;
}

/** Finished queue jobs in these states; a rerun's parent waits until its children are gone (the foreign key). */
function finishedJobs(states: string[], keepDays: RetentionRule['keepDays']): RetentionRule {
  const list = states.map((st) => `'${st}'`).join(', ');
  return {
    table: 'jobs',
    keepDays,
    sql: `DELETE FROM jobs WHERE id IN (
            SELECT j.id FROM jobs j WHERE j.state IN (${list}) AND j.finished_at < @cutoff
              AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = j.id)
            LIMIT @batch)`,
  };
}

export const RETENTION_RULES: readonly RetentionRule[] = Object.freeze([
  {
    table: 'events',
    keepDays: (c) => c.eventsDays,
    sql: `DELETE FROM events WHERE seq IN (
            SELECT seq FROM events WHERE created_at < @cutoff ORDER BY seq LIMIT @batch)`,
  },
  finishedJobs(['done', 'cancelled'], (c) => c.jobsDays),
  finishedJobs(['dead'], (c) => c.deadJobsDays),
  {
    // History first: a resolved alert past the cutoff then has no events left to cascade.
    table: 'alert_events',
    keepDays: (c) => c.alertHistoryDays,
    sql: `DELETE FROM alert_events WHERE id IN (
            SELECT id FROM alert_events WHERE at < @cutoff ORDER BY id LIMIT @batch)`,
  },
  {
    table: 'alerts',
    keepDays: (c) => c.alertHistoryDays,
    sql: `DELETE FROM alerts WHERE fingerprint IN (
            SELECT fingerprint FROM alerts WHERE status = 'resolved' AND ends_at < @cutoff LIMIT @batch)`,
  },
  {
    table: 'job_runs',
    keepDays: (c) => c.jobRunsDays,
    sql: `DELETE FROM job_runs WHERE id IN (
            SELECT id FROM job_runs WHERE started_at < @cutoff AND result != 'running' ORDER BY id LIMIT @batch)`,
  },
  {
    table: 'health_history',
    keepDays: (c) => c.healthHistoryDays,
    sql: `DELETE FROM health_history WHERE id IN (
            SELECT id FROM health_history WHERE at < @cutoff ORDER BY id LIMIT @batch)`,
  },
]);

export interface RetentionResult {
  /** Rows removed per table. */
  removed: Record<string, number>;
  /** Oldest instant kept per table (ISO), or null where the table is kept forever. */
  keptSince: Record<string, string | null>;
  batches: number;
  durationMs: number;
}

export interface RetentionMetrics {
  pruned: Counter<'table'>;
}

export function retentionMetrics(registry: Registry, rules = RETENTION_RULES): RetentionMetrics {
  const m = once(registry, 'contimg_retention_rows_pruned_total', () => ({
    pruned: new Counter({
      name: 'contimg_retention_rows_pruned_total',
      help: 'Rows deleted by retention, by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
  }));
  for (const r of rules) m.pruned.inc({ table: r.table }, 0);
  return m;
}

export interface RetentionOptions {
  db: Db;
  config: RetentionConfig;
  clock: Clock;
  log?: Logger;
  signal?: AbortSignal;
  metrics?: RetentionMetrics;
  rules?: readonly RetentionRule[];
  /** Lease owner id (lib/leases format); a fresh one by default. */
  owner?: string;
}

/** Prune every table once, now, in small batches. Throws InvalidStateError when another pruner holds the lease. */
export async function runRetention(o: RetentionOptions): Promise<RetentionResult> {
  const owner = o.owner ?? leaseOwner('retention');
  const r = await withLease(o.db, RETENTION_LEASE, owner, 60_000, (signal) => pruneAll({ ...o, signal }), {
    clock: o.clock,
    signal: o.signal,
    log: o.log,
  });
  if (!r.acquired)
    throw new InvalidStateError('another process is running retention (the retention lease is held)', {
      lease: RETENTION_LEASE,
    });
  return r.value;
}

async function pruneAll(o: RetentionOptions & { signal: AbortSignal }): Promise<RetentionResult> {
  const t0 = o.clock.monotonic();
  const now = o.clock.now();
  const removed: Record<string, number> = {};
  const keptSince: Record<string, string | null> = {};
  let batches = 0;
  for (const rule of o.rules ?? RETENTION_RULES) {
    removed[rule.table] ??= 0;
    const days = rule.keepDays(o.config);
    if (days <= 0) {
      keptSince[rule.table] ??= null;
      continue;
    }
    const cutoff = now - days * 86_400_000;
    keptSince[rule.table] = new Date(cutoff).toISOString();
    for (;;) {
      o.signal.throwIfAborted();
      const n = await o.db.writeAsync(
        (c) => cachedStatement(c, rule.sql).run({ cutoff, batch: o.config.batchSize }).changes,
        { signal: o.signal },
      );
      batches++;
      removed[rule.table] += n;
      o.metrics?.pruned.inc({ table: rule.table }, n);
      if (n < o.config.batchSize) break;
      if (o.config.batchPauseMs > 0) await sleep(o.config.batchPauseMs, o.signal);
    }
  }
  const durationMs = Math.round(o.clock.monotonic() - t0);
  o.log?.info({ removed, batches, durationMs }, 'retention done');
  return { removed, keptSince, batches, durationMs };
}
