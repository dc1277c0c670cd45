// Grading mosaics (docs/thumbnail-worker.md, "Mosaic QA"). Discovery enqueues one `grade` job per mosaic the
// builder left `built`, on the worker's second queue `mosaic-qa`. The queue worker runs one job type per queue
// (a job of another kind in `thumbnails` would go dead at the claim), and a grading reads two files that may be
// gigabytes, for minutes: its own queue gives it its own timeout and keeps image thumbnails from waiting behind
// it. The claim gathers what the grading needs (plan, planned pointings, calibrators); the render thread
// renders the PNG and measures; the settle's transaction writes mosaic_qa, the mosaic and plan state, the
// `mosaic` thumbnails row, the `mosaic.graded` event and the MosaicQAFailed alert together with the job's end.
// A mosaic that cannot be read at all is graded `fail` when its job goes dead, so no error ever leaves a
// mosaic looking fine.
import fs from 'node:fs';
import { z } from 'zod';
import { raiseAlert, resolveAlert } from '../../lib/alerts/index.js';
import { airyFwhmDeg } from '../../lib/astro/beam.js';
import type { Clock } from '../../lib/clock.js';
import type { Config } from '../../lib/config/index.js';
import type { Connection, Db } from '../../lib/db/index.js';
import { ShutdownError } from '../../lib/errors.js';
import { appendEvent } from '../../lib/events/index.js';
import type { Logger } from '../../lib/log.js';
// rules.js, not the qa index: an idle worker must not load the measurement's FITS readers.
import { DEFAULT_THRESHOLDS, type QaThresholds } from '../../lib/mosaic/qa/rules.js';
// The one strip label of plan names and every mosaic alert (the planner's), so alerts of one strip agree.
import { stripLabel } from '../../lib/mosaic/plan/describe.js';
import {
  defineJob,
  Settle,
  skipClaim,
  type ClaimedJob,
  type HandlerContext,
  type JobHandler,
  type SettleEvent,
  type WorkerHooks,
} from '../../lib/queue/index.js';
import { DISK_FULL, type DiskGate } from './disk.js';
import type { MosaicQaMetrics } from './mosaic-metrics.js';
import {
  calibratorReferences,
  currentMosaicPng,
  getMosaic,
  inputBeamDeg,
  insertQa,
  markGraded,
  planOf,
  plannedPointings,
  ungradedMosaics,
  upsertMosaicThumbnail,
  type Grade,
  type MosaicRow,
  type PlanInfo,
} from './mosaic-store.js';
import type { MosaicOutput, MosaicRequest } from './mosaic-task.js';
import type { RenderPool } from './pool.js';
import { codeOf, messageOf } from './render-job.js';

export const MOSAIC_QUEUE = 'mosaic-qa';
export const MOSAIC_KIND = 'grade';
/** The topic of the mosaic events the planner and dispatcher append too (mosaic.planned, mosaic.built, …). */
export const MOSAIC_TOPIC = 'mosaics';
export const QA_ALERT = 'MosaicQAFailed';
/** Tiers whose FAIL raises MosaicQAFailed (a quicklook is a preview: its grade is shown, not paged). */
export const ALERTING_TIERS: readonly string[] = ['science', 'deep'];

export const MosaicGradeJob = defineJob({
  queue: MOSAIC_QUEUE,
  kind: MOSAIC_KIND,
  payload: z.object({
    mosaicId: z.number().int().positive(),
    path: z.string().min(1),
    weightsPath: z.string().min(1),
  }),
});
export type MosaicGradePayload = z.output<typeof MosaicGradeJob.schema>;

type QaSection = Config['thumbnailWorker']['mosaicQa'];

export interface MosaicJobDeps {
  state: Db;
  /** The grading pool (its own thread, so image thumbnails never wait behind a mosaic). */
  pool: RenderPool;
  clock: Clock;
  log: Logger;
  metrics: MosaicQaMetrics;
  outputDir: string;
  qa: QaSection;
  stripBytes: number;
  pngLevel: number;
  /** The primary beam the planner assumed (scheduler.mosaic.pb): its half-power radius is the footprint. */
  pb: { dishDiameterM: number; defaultFreqHz: number };
  /**
   * The daemon's disk gate: a PNG that meets a full disk closes it and the grading is deferred (the job ends,
   * the mosaic stays `built`, discovery enqueues a fresh job that runs once space is back): no attempt spent.
   */
  disk?: DiskGate;
}

export function thresholdsOf(qa: QaSection): QaThresholds {
  return {
    ...DEFAULT_THRESHOLDS,
    noiseRatioWarn: qa.noiseRatioWarn,
    noiseRatioFail: qa.noiseRatioFail,
    coverageWarn: qa.coverageWarn,
    coverageFail: qa.coverageFail,
    offsetWarnBeams: qa.offsetWarnBeams,
    offsetFailBeams: qa.offsetFailBeams,
    fluxWarn: qa.fluxWarn,
    fluxFail: qa.fluxFail,
  };
}

/** Enqueue a grading job for every `built` mosaic that has none (idempotent: one unfinished job per mosaic). */
export function discoverMosaics(
  state: Db,
  clock: Clock,
  o: { maxAttempts: number; timeoutMs: number },
): number {
  let enqueued = 0;
  for (let after = 0; ;) {
    const rows = state.read((c) => ungradedMosaics(c, MOSAIC_QUEUE, after, 200));
    if (rows.length === 0) return enqueued;
    after = rows[rows.length - 1].id;
    const now = clock.now();
    state.write((c) => {
      for (const m of rows) {
        const { created } = MosaicGradeJob.enqueue(
          c,
          { mosaicId: m.id, path: m.path, weightsPath: m.weights_path },
          { dedupeKey: `mosaic:${m.id}`, maxAttempts: o.maxAttempts, timeoutMs: o.timeoutMs },
          now,
        );
        if (created) enqueued++;
      }
    });
  }
}

export interface MosaicClaim {
  mosaic: MosaicRow;
  plan: PlanInfo;
  req: MosaicRequest;
}

interface Staged {
  write: (c: Connection) => void;
  after: () => void;
}

type Deps = MosaicJobDeps & { staged: Map<number, Staged> };
type Event = SettleEvent<MosaicGradePayload, MosaicClaim>;

/** The worker options that make a queue worker a mosaic grader. */
export function mosaicWorker(deps: MosaicJobDeps): {
  type: typeof MosaicGradeJob;
  handler: JobHandler<MosaicGradePayload, MosaicClaim>;
  hooks: WorkerHooks<MosaicGradePayload, MosaicClaim>;
} {
  const d: Deps = { ...deps, staged: new Map() };
  return {
    type: MosaicGradeJob,
    handler: (job, ctx) => grade(d, job, ctx),
    hooks: {
      onClaim: (conn, job) => claim(d, conn, job),
      onSettle: (conn, e) => settle(d, conn, e),
      onSettled: (e) => {
        const s = d.staged.get(e.job.id);
        d.staged.delete(e.job.id);
        if (e.decision.state === 'done' || e.decision.state === 'dead') s?.after();
      },
    },
  };
}

/** Within an image this far from its centre (× its smaller side) data are expected (PB-masked corners aside). */
const IMAGE_HALF_SIDE = 0.45;

/**
 * The planned footprint: around each planned pointing the half-power disc of the planner's primary beam,
 * where every input has A ≥ 0.5 (above any PB cutoff, drift smearing included), but never beyond
 * IMAGE_HALF_SIDE of that input's own image when fits_metadata knows its size.
 */
function footprintOf(conn: Connection, planId: number, pb: MosaicJobDeps['pb']): MosaicRequest['footprint'] {
  const radiusDeg = airyFwhmDeg({ dishM: pb.dishDiameterM, freqHz: pb.defaultFreqHz }) / 2;
  const centers = plannedPointings(conn, planId).map((p) => ({
    raDeg: p.raDeg,
    decDeg: p.decDeg,
    radiusDeg: p.sideDeg && p.sideDeg > 0 ? Math.min(radiusDeg, IMAGE_HALF_SIDE * p.sideDeg) : radiusDeg,
  }));
  return { centers, radiusDeg };
}

/** In the claim's transaction: a mosaic no longer `built` (graded, deleted) is not graded again. */
function claim(d: Deps, conn: Connection, job: ClaimedJob<MosaicGradePayload>) {
  const m = getMosaic(conn, job.payload.mosaicId);
  if (!m || m.state !== 'built' || m.path !== job.payload.path) return skipClaim({ superseded: true });
  const plan = planOf(conn, m.plan_id) ?? { name: `plan ${m.plan_id}`, strip_dec_deg: NaN };
  const q = d.qa;
  const req: MosaicRequest = {
    kind: 'mosaic',
    mosaicPath: m.path,
    weightsPath: m.weights_path,
    outputDir: d.outputDir,
    maxDim: q.mosaicMaxDim,
    maxPixels: q.maxPixels,
    stripBytes: d.stripBytes,
    pngLevel: d.pngLevel,
    innerWeightFraction: q.innerWeightFraction,
    sampleMax: q.sampleMax,
    thresholds: thresholdsOf(q),
    calibrators: calibratorReferences(conn),
    referenceSourcesFile: q.referenceSourcesFile ?? null,
    footprint: footprintOf(conn, m.plan_id, d.pb),
    beamDegFallback: inputBeamDeg(conn, m.plan_id),
  };
  return { mosaic: m, plan, req };
}

async function grade(
  d: Deps,
  job: ClaimedJob<MosaicGradePayload>,
  ctx: HandlerContext<MosaicClaim>,
): Promise<unknown> {
  const { mosaic, plan, req } = ctx.claim;
  let out: MosaicOutput;
  try {
    out = await d.pool.mosaic(req, ctx.signal);
  } catch (e) {
    if (ctx.signal.aborted && ctx.signal.reason instanceof ShutdownError) throw e;
    if (codeOf(e) === DISK_FULL && d.disk) {
      d.disk.sawFull();
      ctx.log.warn({ path: mosaic.path, err: messageOf(e) }, 'output disk full; mosaic grading deferred');
      return { deferred: DISK_FULL };
    }
    const retryable = (e as { retryable?: unknown } | null)?.retryable === true;
    ctx.log.warn(
      { path: mosaic.path, code: codeOf(e), err: messageOf(e), retryable },
      'mosaic grading failed',
    );
    return Settle.failed(e, { retryable });
  }
  const g: Grade = {
    status: out.qa.status,
    grade: out.qa.grade,
    reasons: out.qa.reasons,
    metrics: out.qa.metrics,
  };
  stageGrade(d, job, mosaic, plan, g, out);
  return { status: g.status, grade: g.grade, thumbnailPath: out.png?.path ?? null };
}

/** In the settle's transaction: a finished grading commits; a dead job grades the mosaic `fail`, saying why. */
function settle(d: Deps, conn: Connection, e: Event): void {
  const { job, decision } = e;
  if (decision.state === 'done') {
    d.staged.get(job.id)?.write(conn);
    return;
  }
  if (decision.state !== 'dead') return;
  const m = getMosaic(conn, job.payload.mosaicId);
  if (!m || m.state !== 'built') return;
  const plan = planOf(conn, m.plan_id) ?? { name: `plan ${m.plan_id}`, strip_dec_deg: NaN };
  const code = decision.buried ? 'WORKER_LOST' : codeOf(decision.cause);
  const detail = decision.buried ? decision.error : messageOf(decision.cause);
  const g: Grade = {
    status: 'fail',
    grade: 'unknown',
    reasons: [
      { rule: 'readable', value: null, threshold: null, level: 'fail', detail: `${code}: ${detail}` },
    ],
    metrics: null,
  };
  stageGrade(d, job, m, plan, g, null);
  d.staged.get(job.id)?.write(conn);
}

function stageGrade(
  d: Deps,
  job: { id: number; lease: { attempt: number; owner: string } },
  m: MosaicRow,
  plan: PlanInfo,
  g: Grade,
  out: MosaicOutput | null,
): void {
  let previousPng: string | null = null;
  let committed = false;
  d.staged.set(job.id, {
    write: (c) => {
      const now = d.clock.now();
      const fresh = getMosaic(c, m.id);
      if (!fresh || fresh.state !== 'built') return;
      previousPng = currentMosaicPng(c, m.path);
      const qaId = insertQa(c, m.id, g, `thumbnail-worker ${job.lease.owner}`, now);
      const thumbnailId = out?.png ? upsertMosaicThumbnail(c, m, out, g.grade, job.lease.attempt, now) : null;
      markGraded(c, m, g, out?.png?.path ?? null, now);
      const strip = stripLabel(plan.strip_dec_deg);
      appendEvent(
        c,
        {
          topic: MOSAIC_TOPIC,
          type: 'mosaic.graded',
          payload: {
            mosaicId: m.id,
            planId: m.plan_id,
            name: plan.name,
            tier: m.tier,
            strip,
            status: g.status,
            grade: g.grade,
            qaId,
            thumbnailId,
            thumbnailPath: out?.png?.path ?? null,
            width: out?.png?.width ?? null,
            height: out?.png?.height ?? null,
            noiseJy: g.metrics?.noiseJy ?? null,
            noiseRatio: g.metrics?.noiseRatio ?? null,
            dynamicRange: g.metrics?.dynamicRange ?? null,
            findings: g.reasons.filter((r) => r.level !== 'not_measured'),
          },
        },
        now,
      );
      alertOnGrade(c, m, plan, g, strip, now);
      committed = true;
    },
    after: () => {
      if (!committed) return;
      const mm = d.metrics;
      mm.total.inc({ tier: m.tier, status: g.status, grade: g.grade });
      if (g.metrics?.noiseRatio != null) mm.noiseRatio.set({ tier: m.tier }, g.metrics.noiseRatio);
      if (g.metrics?.dynamicRange != null) mm.dynamicRange.set({ tier: m.tier }, g.metrics.dynamicRange);
      if (out) mm.seconds.observe(out.seconds);
      if (previousPng && previousPng !== out?.png?.path) fs.rmSync(previousPng, { force: true });
      d.log.info({ mosaic: m.path, tier: m.tier, status: g.status, grade: g.grade }, 'mosaic graded');
    },
  });
}

/** MosaicQAFailed: a science or deep mosaic graded FAIL; the next PASS or WARN of that tier and strip resolves it. */
function alertOnGrade(
  c: Connection,
  m: MosaicRow,
  plan: PlanInfo,
  g: Grade,
  strip: string,
  now: number,
): void {
  if (!ALERTING_TIERS.includes(m.tier)) return;
  const labels = { tier: m.tier, strip };
  if (g.status === 'fail') {
    const findings = g.reasons.filter((r) => r.level === 'fail');
    raiseAlert(
      c,
      {
        alertname: QA_ALERT,
        severity: 'warning',
        labels,
        source: 'thumbnail-worker',
        annotations: {
          summary: `${m.tier} mosaic ${plan.name} graded FAIL (${findings.map((r) => r.rule).join(', ')})`,
          description: findings
            .map(
              (r) =>
                `${r.rule} = ${r.value ?? 'n/a'} (threshold ${r.threshold ?? 'n/a'})${r.detail ? `: ${r.detail}` : ''}`,
            )
            .join('; '),
          mosaic: m.path,
          runbook_url: 'docs/runbook.md#mosaicqafailed',
        },
      },
      now,
    );
  } else if (g.status === 'pass' || g.status === 'warn')
    resolveAlert(c, { alertname: QA_ALERT, labels }, now);
}
