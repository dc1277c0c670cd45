// Mosaic planning as a scheduler job (docs/mosaicking.md "Planning"): load the candidates of a window
// (plan-candidates.ts), plan them (lib/mosaic/plan, pure), and write each unit in its own transaction
// (plan-store.ts). The cron jobs: mosaicQuicklook (the last few hours, tiles as they complete) and
// mosaicScience (the previous UTC day by observation time). The CLI and the API call planMosaicWindow
// directly; --dry-run stops before the writes.
import type { Config } from '../../../lib/config/index.js';
import type { MosaicTier } from '../../../lib/mosaic/manifest.js';
import {
  planMosaics,
  type PlannerSettings,
  type PlanResult,
  type Rejections,
} from '../../../lib/mosaic/plan/index.js';
import type { JobFn, SchedulerContext } from '../context.js';
import { loadCandidates } from './plan-candidates.js';
import type { MosaicPlanMetrics } from './plan-metrics.js';
import type { PlanTrigger } from './plan-row.js';
import { writeUnit, type WriteResult } from './plan-store.js';

const GIB = 1024 ** 3;
const DAY_MS = 86_400_000;

export interface PlanRequest {
  tier: MosaicTier;
  window: { fromMs: number; toMs: number };
  stripDeg?: number;
  deep?: { raMinDeg: number; raMaxDeg: number; label: string };
  trigger: PlanTrigger;
  dryRun?: boolean;
}

export function plannerSettings(config: Config, req: PlanRequest): PlannerSettings {
  const m = config.scheduler.mosaic;
  const t = m.tiers[req.tier];
  const q = m.tiers.quicklook;
  const sc = m.tiers.science;
  return {
    tier: req.tier,
    rules: {
      minImages: t.minImages,
      maxImages: t.maxImages,
      noiseMaxJy: t.noiseMaxJy,
      ...(req.tier === 'quicklook' && {
        newImages: q.newImages,
        overlapImages: q.overlapImages,
        maxSpanS: q.maxSpanS,
      }),
      ...(req.tier === 'science' && { segmentMinutes: sc.segmentMinutes, overlapImages: sc.overlapImages }),
    },
    inputGlobs: m.inputGlobs,
    inputKind: m.inputKind,
    metadataWaitS: m.metadataWaitS,
    stripTolDeg: m.stripTolDeg,
    cadenceS: m.cadenceS,
    maxGapS: m.maxGapS,
    projection: m.grid.projection,
    pixelArcsec: m.grid.pixelArcsec,
    maxCanvasPixels: m.grid.maxCanvasPixels,
    memoryMaxBytes: Math.floor(m.builder.memoryMaxGb * GIB),
    window: req.window,
    ...(req.stripDeg !== undefined && { stripDeg: req.stripDeg }),
    ...(req.deep && { deep: req.deep }),
  };
}

export interface PlanRunReport {
  tier: MosaicTier;
  window: { from: string; to: string };
  result: PlanResult;
  writes: WriteResult[];
}

/** Plan one window of one tier; writes nothing with dryRun. */
export async function planMosaicWindow(
  ctx: SchedulerContext,
  req: PlanRequest,
  metrics?: MosaicPlanMetrics,
  signal?: AbortSignal,
): Promise<PlanRunReport> {
  const now = ctx.clock.now();
  const settings = plannerSettings(ctx.config, req);
  const candidates = loadCandidates(ctx.state, ctx.pipeline, {
    window: req.window,
    cadenceS: settings.cadenceS,
  });
  const result = planMosaics(candidates, settings, now);
  const writes: WriteResult[] = [];
  if (!req.dryRun) {
    const m = ctx.config.scheduler.mosaic;
    for (const unit of result.units) {
      // Past the job's deadline (or shutting down): stop between units; the next run writes the rest.
      signal?.throwIfAborted();
      const w = await ctx.state.writeAsync((c) =>
        writeUnit(
          c,
          unit,
          {
            trigger: req.trigger,
            host: ctx.host,
            maxAttempts: m.builder.maxAttempts,
            replanLate: req.tier === 'science' && m.tiers.science.replanLate,
          },
          ctx.clock.now(),
        ),
      );
      writes.push(w);
      metrics?.plans.inc({ tier: req.tier, outcome: w.outcome });
      if (w.outcome !== 'duplicate') countRejected(metrics, req.tier, unit.rejected);
    }
  }
  return {
    tier: req.tier,
    window: { from: new Date(req.window.fromMs).toISOString(), to: new Date(req.window.toMs).toISOString() },
    result,
    writes,
  };
}

function countRejected(metrics: MosaicPlanMetrics | undefined, tier: MosaicTier, r: Rejections): void {
  if (!metrics) return;
  for (const [reason, n] of Object.entries(r)) if (n) metrics.rejected.inc({ tier, reason }, n);
}

/** The previous UTC day [00:00, 24:00) of `nowMs`. */
export function previousUtcDay(nowMs: number): { fromMs: number; toMs: number } {
  const toMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return { fromMs: toMs - DAY_MS, toMs };
}

/** The quicklook look-back: three spans (tiles complete within one; the rest covers a late image or a restart). */
export function quicklookWindow(config: Config, nowMs: number): { fromMs: number; toMs: number } {
  const span = config.scheduler.mosaic.tiers.quicklook.maxSpanS * 1000;
  return { fromMs: nowMs - 3 * span, toMs: nowMs };
}

function summaryOf(r: PlanRunReport) {
  const by: Record<string, number> = {};
  for (const w of r.writes) by[w.outcome] = (by[w.outcome] ?? 0) + 1;
  return {
    window: r.window,
    candidates: r.result.nCandidates,
    waiting: r.result.waiting,
    rejected: r.result.rejected,
    units: r.result.units.length,
    outcomes: by,
    plans: r.writes.filter((w) => w.outcome !== 'duplicate').map((w) => w.plan.name),
  };
}

const tierJob =
  (tier: 'quicklook' | 'science'): JobFn =>
  async (ctx, signal) => {
    const m = ctx.config.scheduler.mosaic;
    if (!m.enabled || !m.tiers[tier].enabled) return { result: 'ok', summary: { disabled: true } };
    const now = ctx.clock.now();
    const window = tier === 'science' ? previousUtcDay(now) : quicklookWindow(ctx.config, now);
    const report = await planMosaicWindow(ctx, { tier, window, trigger: 'cron' }, ctx.metrics.mosaic, signal);
    return { result: 'ok', summary: summaryOf(report) };
  };

export const mosaicQuicklookJob: JobFn = tierJob('quicklook');
export const mosaicScienceJob: JobFn = tierJob('science');
