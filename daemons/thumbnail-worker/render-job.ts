// The queue handler for one render job: check the job still describes the row's source, render in the pool,
// then commit the row, the metadata and the thumbnail.updated event in one transaction under the job's
// fencing token. Failures are recorded on the row with their code before the queue retries or buries the job.
import fs from 'node:fs';
import type { Clock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/index.js';
import { ShutdownError } from '../../lib/errors.js';
import { appendEvent } from '../../lib/events/index.js';
import { SKIP_CODES, fitsCodeOf, type FitsErrorCode } from '../../lib/fits/errors.js';
import type { RenderOptions } from '../../lib/fits/render.js';
import { gradeDynamicRange } from '../../lib/fits/stats.js';
import type { Logger } from '../../lib/log.js';
import {
  assertJobLease,
  type ClaimedJob,
  type HandlerContext,
  type JobHandler,
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

export interface RenderJobPayload {
  thumbId: number;
  fitsPath: string;
  variant: string;
  fingerprint: string;
  mtimeMs: number | null;
}

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

function codeOf(e: unknown): string {
  return fitsCodeOf(e) ?? ((e as { code?: unknown } | null)?.code as string | undefined) ?? 'IO_ERROR';
}

export function makeRenderHandler(d: RenderJobDeps): JobHandler {
  return async (job, ctx) => {
    const p = job.payload as unknown as RenderJobPayload;
    const row = d.state.read((c) => getRow(c, p.thumbId));
    if (!row || row.job_id !== job.id || row.src_fingerprint !== p.fingerprint) {
      d.metrics.jobs.inc({ outcome: 'superseded', code: '' });
      return { superseded: true };
    }
    const options = d.presets[p.variant];
    const look = d.looks[p.variant];
    if (!options || !look) {
      d.state.write((c) =>
        markFailure(
          c,
          row.id,
          'skipped',
          job.lease.attempt,
          'UNKNOWN_PRESET',
          `no preset ${p.variant}`,
          d.clock.now(),
        ),
      );
      return { skipped: 'UNKNOWN_PRESET' };
    }
    const startedAt = d.clock.now();
    d.state.write((c) => {
      assertJobLease(c, job.lease);
      markRunning(c, row.id, job.lease.attempt, startedAt);
    });
    if (p.mtimeMs !== null)
      d.metrics.renderSeconds.observe({ stage: 'settle' }, Math.max(0, startedAt - p.mtimeMs) / 1000);
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
  };
}

function onFailure(
  d: RenderJobDeps,
  job: ClaimedJob,
  ctx: HandlerContext,
  row: ThumbRow,
  e: unknown,
): { [k: string]: unknown } {
  const now = d.clock.now();
  const code = codeOf(e);
  const message = e instanceof Error ? e.message : String(e);
  if (ctx.signal.aborted && ctx.signal.reason instanceof ShutdownError) {
    // Handed back by the worker: the row waits for the next claim.
    d.state.write((c) =>
      markFailure(
        c,
        row.id,
        'pending',
        job.lease.attempt - 1,
        'SHUTDOWN',
        'render interrupted by shutdown',
        now,
      ),
    );
    throw e;
  }
  if (code === DISK_FULL && d.disk) {
    // Not the file's fault and not an attempt: pause claiming, hand the row back to discovery (a new job
    // once space is back), and finish this job as deferred.
    d.disk.sawFull();
    d.state.write((c) => {
      assertJobLease(c, job.lease);
      markFailure(c, row.id, 'pending', job.lease.attempt - 1, code, message, now, { detachJob: true });
    });
    d.metrics.jobs.inc({ outcome: 'deferred', code });
    ctx.log.warn({ path: row.fits_path, code, err: message }, 'output disk full; render deferred');
    return { deferred: code };
  }
  d.metrics.fitsErrors.inc({ code });
  if (code === 'SOURCE_CHANGED') {
    // Not the file's fault and not an attempt: discovery re-settles and enqueues for the new fingerprint.
    d.state.write((c) => {
      assertJobLease(c, job.lease);
      requeue(c, row.id, code, message, now);
    });
    d.metrics.jobs.inc({ outcome: 'superseded', code });
    ctx.log.info({ path: row.fits_path, code }, 'source changed during the render; requeued');
    return { superseded: true, code };
  }
  const retryable = (e as { retryable?: unknown }).retryable === true;
  if (retryable) {
    const last = job.lease.attempt >= job.maxAttempts;
    d.state.write((c) => {
      assertJobLease(c, job.lease);
      markFailure(c, row.id, last ? 'failed' : 'pending', job.lease.attempt, code, message, now);
    });
    d.metrics.jobs.inc({ outcome: last ? 'failed' : 'retry', code });
    throw e;
  }
  const skip = SKIP_CODES.includes(code as FitsErrorCode);
  d.state.write((c) => {
    assertJobLease(c, job.lease);
    markFailure(c, row.id, skip ? 'skipped' : 'failed', job.lease.attempt, code, message, now);
  });
  d.metrics.jobs.inc({ outcome: skip ? 'skipped' : 'failed', code });
  ctx.log.warn(
    { path: row.fits_path, code, err: message },
    skip ? 'thumbnail skipped' : 'thumbnail failed for good',
  );
  // Skipped is a normal end (the job is done); a corrupt file buries the job so an operator can see it.
  if (skip) return { skipped: code };
  throw e;
}

function commit(
  d: RenderJobDeps,
  job: ClaimedJob,
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
  d.state.write((c) => {
    assertJobLease(c, job.lease);
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
  });
  if (previous && previous !== out.pngPath) fs.rmSync(previous, { force: true });
  const t = out.timings;
  const m = d.metrics;
  m.renderSeconds.observe({ stage: 'header' }, t.header / 1000);
  m.renderSeconds.observe({ stage: 'read_downsample' }, t.readDownsample / 1000);
  m.renderSeconds.observe({ stage: 'limits' }, t.limits / 1000);
  m.renderSeconds.observe({ stage: 'encode' }, t.encode / 1000);
  m.renderSeconds.observe({ stage: 'write' }, t.write / 1000);
  m.renderSeconds.observe({ stage: 'total' }, t.total / 1000);
  m.bytesRead.inc(out.bytesRead);
  m.pngBytes.observe(out.pngBytes);
  m.jobs.inc({ outcome: 'done', code: '' });
  m.lastSuccess.set(now / 1000);
}
