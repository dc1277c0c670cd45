// The queue handler for one render job, on the queue worker's hooks. At claim (in the claim's transaction):
// check the job still describes the row's source and mark the row running, or finish a stale job without
// rendering. The handler renders in the pool and commits the row, the metadata and the thumbnail.updated event
// in one transaction under the job's fencing token. A failure the file may recover from is handed to the
// queue, which decides retry or dead by the attempts left; the row follows that decision in the settle's own
// transaction (pending, failed, handed back at shutdown, or WORKER_LOST for a last attempt a claim buried).
import fs from 'node:fs';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.js';
import type { Connection, Db } from '../../lib/db/index.js';
import { ShutdownError } from '../../lib/errors.js';
import { appendEvent } from '../../lib/events/index.js';
import { SKIP_CODES, fitsCodeOf, type FitsErrorCode } from '../../lib/fits/errors.js';
import type { RenderOptions } from '../../lib/fits/render.js';
import { gradeDynamicRange } from '../../lib/fits/stats.js';
import type { Logger } from '../../lib/log.js';
import {
  defineJob,
  Settle,
  skipClaim,
  type ClaimedJob,
  type HandlerContext,
  type JobHandler,
  type SettleEvent,
  type Settlement,
  type WorkerHooks,
} from '../../lib/queue/index.js';
import type { ThumbnailMetrics } from './metrics.js';
import type { RenderPool } from './pool.js';
import { DISK_FULL, type DiskGate } from './disk.js';
import type { RenderOutput } from './render-task.js';
import {
  getRow,
  markDone,
  markFailure,
  markRunning,
  requeue,
  upsertMetadata,
  type ThumbRow,
} from './store.js';

export const QUEUE = 'thumbnails';
export const KIND = 'render';
export const EVENT_TOPIC = 'thumbnails';

/** The render job: one thumbnails row, the source fingerprint it was made for. */
export const RenderJob = defineJob({
  queue: QUEUE,
  kind: KIND,
  payload: z.object({
    thumbId: z.number().int().positive(),
    fitsPath: z.string().min(1),
    variant: z.string().min(1),
    fingerprint: z.string().min(1),
    mtimeMs: z.number().nullable(),
  }),
});
export type RenderJobPayload = z.output<typeof RenderJob.schema>;

export interface RenderJobDeps {
  state: Db;
  pool: RenderPool;
  clock: Clock;
  log: Logger;
  metrics: ThumbnailMetrics;
  outputDir: string;
  /** Render options per preset name. */
  presets: Record<string, RenderOptions>;
  /** Look key per preset name: stored with the thumbnail, it is what makes the thumbnail current. */
  looks: Record<string, string>;
  /**
   * The daemon's disk gate: a render that meets a full disk closes it and is deferred (no attempt spent).
   * Without one (render-all) a full disk is an ordinary retryable failure.
   */
  disk?: DiskGate;
}

/**
 * A row write the handler decided on, made in the settle's transaction (with the job's own end), so a crash
 * can never leave the row finished and its job running; `after` runs once that transaction committed.
 */
interface StagedWrite {
  write: (conn: Connection) => void;
  after?: () => void;
}

type Deps = RenderJobDeps & { staged: Map<number, StagedWrite> };

function stage(
  d: Deps,
  job: ClaimedJob<RenderJobPayload>,
  write: (conn: Connection) => void,
  after?: () => void,
): void {
  d.staged.set(job.id, { write, after });
}

/** What the claim hands the handler: the row, now running, with its preset. */
export interface RenderClaim {
  row: ThumbRow;
  options: RenderOptions;
  look: string;
}

type RenderEvent = SettleEvent<RenderJobPayload, RenderClaim>;

/** A failure's code: the FITS reader's, the error's own, or IO_ERROR. */
export function codeOf(e: unknown): string {
  return fitsCodeOf(e) ?? ((e as { code?: unknown } | null)?.code as string | undefined) ?? 'IO_ERROR';
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The worker options that make a queue worker a render worker: the job type, the handler and its hooks. */
export function renderWorker(deps: RenderJobDeps): {
  type: typeof RenderJob;
  handler: JobHandler<RenderJobPayload, RenderClaim>;
  hooks: WorkerHooks<RenderJobPayload, RenderClaim>;
} {
  const d: Deps = { ...deps, staged: new Map() };
  return {
    type: RenderJob,
    handler: (job, ctx) => render(d, job, ctx),
    hooks: {
      onClaim: (conn, job) => claimRow(d, conn, job),
      onSettle: (conn, e) => settleRow(d, conn, e),
      onSettled: (e) => countSettled(d, e),
    },
  };
}

/** In the claim's transaction: a job that no longer describes its row finishes here, unrendered. */
function claimRow(d: RenderJobDeps, conn: Connection, job: ClaimedJob<RenderJobPayload>) {
  const p = job.payload;
  const row = getRow(conn, p.thumbId);
  if (!row || row.job_id !== job.id || row.src_fingerprint !== p.fingerprint)
    return skipClaim({ superseded: true });
  const options = d.presets[p.variant];
  const look = d.looks[p.variant];
  const now = d.clock.now();
  if (!options || !look) {
    markFailure(conn, row.id, 'skipped', job.lease.attempt, 'UNKNOWN_PRESET', `no preset ${p.variant}`, now);
    return skipClaim({ skipped: 'UNKNOWN_PRESET' });
  }
  markRunning(conn, row.id, job.lease.attempt, now);
  return { row, options, look };
}

async function render(
  d: Deps,
  job: ClaimedJob<RenderJobPayload>,
  ctx: HandlerContext<RenderClaim>,
): Promise<unknown> {
  const p = job.payload;
  const { row, options, look } = ctx.claim;
  if (p.mtimeMs !== null)
    d.metrics.renderSeconds.observe({ stage: 'settle' }, Math.max(0, d.clock.now() - p.mtimeMs) / 1000);
  let out: RenderOutput;
  try {
    out = await d.pool.run(
      {
        fitsPath: p.fitsPath,
        variant: p.variant,
        expectFingerprint: p.fingerprint,
        outputDir: d.outputDir,
        options,
        look,
      },
      ctx.signal,
    );
  } catch (e) {
    return onFailure(d, job, ctx, row, e);
  }
  commit(d, job, row, out, options, look);
  return { pngPath: out.pngPath, vmin: out.vmin, vmax: out.vmax };
}

/**
 * A failed render: what is nobody's fault (a full disk, a source that changed) is handled here without an
 * attempt; a file to skip ends the job normally; anything else goes to the queue with whether it may pass.
 */
function onFailure(
  d: Deps,
  job: ClaimedJob<RenderJobPayload>,
  ctx: HandlerContext<RenderClaim>,
  row: ThumbRow,
  e: unknown,
): Settlement | { [k: string]: unknown } {
  // Handed back by the worker: the settle hook puts the row back to pending.
  if (ctx.signal.aborted && ctx.signal.reason instanceof ShutdownError) throw e;
  const now = d.clock.now();
  const code = codeOf(e);
  const message = messageOf(e);
  if (code === DISK_FULL && d.disk) {
    // Not the file's fault and not an attempt: pause claiming, hand the row back to discovery (a new job
    // once space is back), and finish this job as deferred.
    d.disk.sawFull();
    stage(d, job, (c) => {
      markFailure(c, row.id, 'pending', job.lease.attempt - 1, code, message, now, { detachJob: true });
    });
    d.metrics.jobs.inc({ outcome: 'deferred', code });
    ctx.log.warn({ path: row.fits_path, code, err: message }, 'output disk full; render deferred');
    return { deferred: code };
  }
  d.metrics.fitsErrors.inc({ code });
  if (code === 'SOURCE_CHANGED') {
    // Not the file's fault and not an attempt: discovery re-settles and enqueues for the new fingerprint.
    stage(d, job, (c) => {
      requeue(c, row.id, code, message, now);
    });
    d.metrics.jobs.inc({ outcome: 'superseded', code });
    ctx.log.info({ path: row.fits_path, code }, 'source changed during the render; requeued');
    return { superseded: true, code };
  }
  if (SKIP_CODES.includes(code as FitsErrorCode)) {
    // Skipped is a normal end (the job is done).
    stage(d, job, (c) => {
      markFailure(c, row.id, 'skipped', job.lease.attempt, code, message, now);
    });
    d.metrics.jobs.inc({ outcome: 'skipped', code });
    ctx.log.warn({ path: row.fits_path, code, err: message }, 'thumbnail skipped');
    return { skipped: code };
  }
  // A truncated or missing file may recover (retryable); a corrupt one will not. The queue decides the rest.
  return Settle.failed(e, { retryable: (e as { retryable?: unknown } | null)?.retryable === true });
}

/** In the settle's transaction: the row follows the queue's decision. */
function settleRow(d: Deps, conn: Connection, e: RenderEvent): void {
  const { job, decision } = e;
  const now = d.clock.now();
  const id = job.payload.thumbId;
  switch (decision.state) {
    case 'retry':
    case 'dead': {
      if (decision.state === 'dead' && decision.buried) {
        // A claim buried the last attempt: its holder died. The row waits for `contimg thumbnails retry`.
        if (getRow(conn, id)?.job_id === job.id)
          markFailure(conn, id, 'failed', job.lease.attempt, 'WORKER_LOST', decision.error, now);
        return;
      }
      const status = decision.state === 'retry' ? 'pending' : 'failed';
      const cause = decision.cause;
      markFailure(conn, id, status, job.lease.attempt, codeOf(cause), messageOf(cause), now);
      return;
    }
    case 'released':
      markFailure(
        conn,
        id,
        'pending',
        job.lease.attempt - 1,
        'SHUTDOWN',
        'render interrupted by shutdown',
        now,
      );
      return;
    case 'done':
      d.staged.get(job.id)?.write(conn);
      return;
    case 'lost':
      return;
  }
}

/** After the settle committed: the outcome counters and the operator's log line for a failure for good. */
function countSettled(d: Deps, e: RenderEvent): void {
  const { decision, job } = e;
  const staged = d.staged.get(job.id);
  d.staged.delete(job.id);
  if (decision.state === 'done') staged?.after?.();
  if (decision.state === 'done' && e.claim === undefined) {
    // Finished at claim: the job no longer described its row.
    if ((decision.result as { superseded?: boolean } | null)?.superseded)
      d.metrics.jobs.inc({ outcome: 'superseded', code: '' });
    return;
  }
  if (decision.state === 'retry') d.metrics.jobs.inc({ outcome: 'retry', code: codeOf(decision.cause) });
  if (decision.state !== 'dead') return;
  const code = decision.buried ? 'WORKER_LOST' : codeOf(decision.cause);
  d.metrics.jobs.inc({ outcome: 'failed', code });
  d.log.warn(
    { path: job.payload.fitsPath, code, err: decision.buried ? decision.error : messageOf(decision.cause) },
    'thumbnail failed for good',
  );
}

function commit(
  d: Deps,
  job: ClaimedJob<RenderJobPayload>,
  row: ThumbRow,
  out: RenderOutput,
  options: RenderOptions,
  look: string,
): void {
  const now = d.clock.now();
  const params = {
    look,
    interval: options.interval,
    contrast: options.contrast,
    stretch: options.stretch,
    colormap: options.colormap,
    maxDim: options.maxDim,
    downsample: options.downsample,
    limitsOn: options.limitsOn,
    noise: 'madStd = 1.4826·MAD of finite pixels; dynamicRange = peakAbs / madStd',
  };
  let previous: string | null = null;
  stage(
    d,
    job,
    (c) => {
      previous = getRow(c, row.id)?.png_path ?? null;
      markDone(c, row, out, params, job.lease.attempt, now);
      upsertMetadata(c, row.fits_path, out, now);
      appendEvent(
        c,
        {
          topic: EVENT_TOPIC,
          type: 'thumbnail.updated',
          payload: {
            thumbnailId: row.id,
            imageId: row.source_id,
            path: row.fits_path,
            variant: row.variant,
            pngPath: out.pngPath,
            width: out.width,
            height: out.height,
            vmin: out.vmin,
            vmax: out.vmax,
            qaGrade: gradeDynamicRange(out.stats?.dynamicRange),
            owner: job.lease.owner,
          },
        },
        now,
      );
    },
    () => {
      if (previous && previous !== out.pngPath) fs.rmSync(previous, { force: true });
      const t = out.timings;
      const m = d.metrics;
      m.renderSeconds.observe({ stage: 'header' }, t.header / 1000);
      m.renderSeconds.observe({ stage: 'read_downsample' }, t.readDownsample / 1000);
      m.renderSeconds.observe({ stage: 'statistics' }, t.statistics / 1000);
      m.renderSeconds.observe({ stage: 'limits' }, t.limits / 1000);
      m.renderSeconds.observe({ stage: 'encode' }, t.encode / 1000);
      m.renderSeconds.observe({ stage: 'write' }, t.write / 1000);
      m.renderSeconds.observe({ stage: 'total' }, t.total / 1000);
      m.bytesRead.inc(out.bytesRead);
      m.pngBytes.observe(out.pngBytes);
      m.jobs.inc({ outcome: 'done', code: '' });
      m.lastSuccess.set(now / 1000);
    },
  );
}
