// The health job: run every probe (in parallel up to health.concurrency, each with its own deadline, all
// under the job's signal), then in the run's finishing transaction update health_checks (status and the
// dampening counters), append status transitions to health_history, and raise or resolve each target's
// alert as dampening decides. Targets no longer configured are dropped (and their alerts resolved).
import { setMaxListeners } from 'node:events';
import { raiseAlert, resolveAlert } from '../../../lib/alerts/index.js';
import type { Connection } from '../../../lib/db/index.js';
import type { JobFn, SchedulerContext } from '../context.js';
import { runbookUrl } from '../findings.js';
import type { SchedulerMetrics } from '../metrics.js';
import {
  deleteHealthCheck,
  insertHealthTransition,
  listHealthChecks,
  upsertHealthCheck,
  type HealthCheckRow,
  type HealthStatus,
} from '../store.js';
import type { ProbeContext } from './commands.js';
import {
  dampen,
  isFailure,
  LEGACY_VALUE,
  OVERALL_VALUE,
  overallStatus,
  probeFailed,
  STATUS_VALUE,
  type Overall,
  type TargetResult,
} from './status.js';
import { healthProbes, type Probe } from './targets.js';

/** Run the probes, at most `limit` at a time; results keep the probes' order. */
export async function runProbes(
  probes: readonly Probe[],
  limit: number,
  ctx: ProbeContext,
): Promise<TargetResult[]> {
  // Each probe in flight listens on the run's signal: more than the default 10 is normal here.
  setMaxListeners(0, ctx.signal);
  const out: TargetResult[][] = new Array(probes.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < probes.length) {
      const i = next++;
      const p = probes[i];
      const t0 = performance.now();
      try {
        out[i] = await p.run(ctx);
      } catch (e) {
        if (ctx.signal.aborted) throw e;
        out[i] = [
          probeFailed(
            { kind: p.kind, name: p.label, critical: false },
            (e as Error).message,
            performance.now() - t0,
          ),
        ];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, probes.length) }, worker));
  return out.flat();
}

export interface HealthApplied {
  transitions: number;
  raised: number;
  resolved: number;
  removed: number;
}

/** The writes of one health run (inside the run's transaction). */
export function applyHealth(
  conn: Connection,
  results: readonly TargetResult[],
  nowMs: number,
  cfg: { failuresBeforeAlert: number; successesBeforeResolve: number },
  host: string,
): HealthApplied {
  const existing = new Map(listHealthChecks(conn).map((r) => [r.targetId, r]));
  const n: HealthApplied = { transitions: 0, raised: 0, resolved: 0, removed: 0 };
  for (const r of results) {
    const prev = existing.get(r.targetId);
    existing.delete(r.targetId);
    const d = dampen(
      prev
        ? { failures: prev.consecutiveFailures, successes: prev.consecutiveSuccesses, alert: prev.alert }
        : null,
      r,
      cfg,
      host,
    );
    if (d.resolve && resolveAlert(conn, d.resolve, nowMs).resolved) n.resolved++;
    if (d.raise) {
      raiseAlert(
        conn,
        {
          alertname: d.raise.alertname,
          severity: d.raise.severity,
          labels: d.raise.labels,
          annotations: {
            summary: r.alert?.summary ?? r.detail,
            description: `${r.targetId}: ${r.status} (${r.detail})`,
            runbook_url: runbookUrl(d.raise.alertname),
          },
          source: 'health',
        },
        nowMs,
      );
      n.raised++;
    }
    const changed = !prev || prev.status !== r.status;
    upsertHealthCheck(conn, {
      targetId: r.targetId,
      kind: r.kind,
      name: r.name,
      status: r.status,
      legacy: r.legacy,
      critical: r.critical,
      detail: r.detail,
      value: r.value,
      data: r.data,
      durationMs: Math.round(r.durationMs * 10) / 10,
      checkedAt: nowMs,
      statusSince: changed ? nowMs : prev.statusSince,
      consecutiveFailures: d.next.failures,
      consecutiveSuccesses: d.next.successes,
      alert: d.next.alert,
    });
    if (changed) {
      insertHealthTransition(conn, {
        targetId: r.targetId,
        at: nowMs,
        from: prev?.status ?? null,
        to: r.status,
        detail: r.detail,
      });
      n.transitions++;
    }
  }
  for (const gone of existing.values()) {
    if (gone.alert && resolveAlert(conn, gone.alert, nowMs).resolved) n.resolved++;
    deleteHealthCheck(conn, gone.targetId);
    n.removed++;
  }
  return n;
}

export function healthSummary(results: readonly TargetResult[]): {
  overall: Overall;
  targets: number;
  counts: Record<HealthStatus, number>;
  notOk: { target: string; status: HealthStatus; detail: string }[];
} {
  const counts: Record<HealthStatus, number> = { ok: 0, warn: 0, crit: 0, unknown: 0, unavailable: 0 };
  for (const r of results) counts[r.status]++;
  return {
    overall: overallStatus(results),
    targets: results.length,
    counts,
    notOk: results
      .filter((r) => isFailure(r.status))
      .map((r) => ({ target: r.targetId, status: r.status, detail: r.detail })),
  };
}

/** Every health gauge from the stored state (after a run, and by the periodic refresh). */
export function setHealthGauges(m: SchedulerMetrics['health'], rows: readonly HealthCheckRow[]): void {
  for (const g of [
    m.targetStatus,
    m.targetUp,
    m.systemdLegacy,
    m.dockerLegacy,
    m.diskFreeBytes,
    m.diskSizeBytes,
    m.diskFreeRatio,
    m.gpuStatus,
    m.gpuTemperature,
    m.gpuUtilization,
    m.gpuMemoryUtilization,
    m.gpuMemoryUsed,
    m.gpuMemoryTotal,
    m.gpuPower,
  ])
    g.reset();
  for (const r of rows) {
    const l = { kind: r.kind, target: r.name };
    m.targetStatus.set(l, STATUS_VALUE[r.status]);
    m.targetUp.set(l, r.status === 'ok' || r.status === 'warn' ? 1 : 0);
    if (r.kind === 'systemd') m.systemdLegacy.set({ service: r.name }, LEGACY_VALUE[r.legacy]);
    if (r.kind === 'docker') m.dockerLegacy.set({ container: r.name }, LEGACY_VALUE[r.legacy]);
    if (r.kind === 'disk' && typeof r.data.sizeBytes === 'number' && typeof r.data.freeBytes === 'number') {
      const p = { disk: r.name };
      m.diskFreeBytes.set(p, r.data.freeBytes);
      m.diskSizeBytes.set(p, r.data.sizeBytes);
      m.diskFreeRatio.set(p, r.data.sizeBytes > 0 ? r.data.freeBytes / r.data.sizeBytes : 0);
    }
    if (r.kind === 'gpu' && r.status !== 'unavailable') {
      const g = { gpu: r.name };
      const d = r.data as {
        temperatureC?: number | null;
        utilizationPct?: number | null;
        memoryUsedBytes?: number | null;
        memoryTotalBytes?: number | null;
        powerW?: number | null;
      };
      const nan = (x: number | null | undefined): number => (typeof x === 'number' ? x : Number.NaN);
      m.gpuStatus.set(g, Math.min(3, STATUS_VALUE[r.status]));
      m.gpuTemperature.set(g, nan(d.temperatureC));
      m.gpuUtilization.set(g, nan(d.utilizationPct));
      m.gpuMemoryUsed.set(g, nan(d.memoryUsedBytes));
      m.gpuMemoryTotal.set(g, nan(d.memoryTotalBytes));
      m.gpuMemoryUtilization.set(
        g,
        d.memoryUsedBytes != null && d.memoryTotalBytes
          ? (100 * d.memoryUsedBytes) / d.memoryTotalBytes
          : Number.NaN,
      );
      m.gpuPower.set(g, nan(d.powerW));
    }
  }
  m.overall.set(OVERALL_VALUE[overallStatus(rows)]);
}

export const healthJob: JobFn = async (ctx: SchedulerContext, signal) => {
  const cfg = ctx.config.scheduler.health;
  const probes = healthProbes(ctx.config, ctx.daemonToken);
  const results = await runProbes(probes, cfg.concurrency, { signal, env: ctx.env });
  for (const r of results) ctx.metrics.health.checkDuration.observe({ kind: r.kind }, r.durationMs / 1000);
  let applied: HealthApplied | undefined;
  return {
    result: 'ok',
    summary: healthSummary(results),
    apply: (conn, now) => {
      applied = applyHealth(conn, results, now, cfg, ctx.host);
    },
    afterCommit: () => {
      setHealthGauges(ctx.metrics.health, ctx.state.read(listHealthChecks));
      if (applied && (applied.raised || applied.resolved))
        ctx.log.info({ ...applied }, 'health alerts changed');
    },
  };
};
