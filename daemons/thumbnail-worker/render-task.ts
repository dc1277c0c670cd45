// What one render does off the main thread: render, check the source is the one the job was made for,
// write the PNG atomically (temp + fsync + rename). Pure of the database; run inside a worker thread.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../../lib/fits/atomic.js';
import { ContimgError, RetryableError } from '../../lib/errors.js';
import { fitsCodeOf, fitsError } from '../../lib/fits/errors.js';
import { headerMetadata } from '../../lib/fits/file-metadata.js';
import { fingerprintKey, statFingerprint } from '../../lib/fits/fingerprint.js';
import type { FitsMetadata } from '../../lib/fits/metadata.js';
import { renderThumbnail, type RenderOptions, type RenderTimings } from '../../lib/fits/render.js';
import type { PlaneStats } from '../../lib/fits/stats.js';
import { DISK_FULL } from './disk.js';
import { pngPathFor } from './presets.js';

export interface RenderRequest {
  fitsPath: string;
  variant: string;
  /** The fingerprint key the job was enqueued for; a different file is SOURCE_CHANGED. */
  expectFingerprint: string;
  outputDir: string;
  options: RenderOptions;
  /** The preset's look key (part of the PNG name). */
  look: string;
}

export interface RenderOutput {
  pngPath: string;
  pngBytes: number;
  width: number;
  height: number;
  vmin: number;
  vmax: number;
  nFinite: number;
  plane: number;
  nx: number;
  ny: number;
  bitpix: number;
  hdu: number;
  fingerprint: { key: string; size: number; mtimeNs: string; ino: number };
  bytesRead: number;
  timings: RenderTimings & { write: number };
  metadata: FitsMetadata;
  stats: PlaneStats | undefined;
}

/** A metadata lookup for the API, run in a pool thread: the main thread never opens or stats a source. */
export interface MetadataRequest {
  kind: 'metadata';
  fitsPath: string;
  /** The fingerprint of the cached fits_metadata row; when the file still has it the header is not read. */
  cachedFingerprint: string | null;
  maxBlocks: number;
}

export interface MetadataOutput {
  fingerprint: string;
  /** The header metadata, or null when the cached row is still current. */
  header: (FitsMetadata & { hdu: number }) | null;
}

export function runMetadata(req: MetadataRequest): MetadataOutput {
  const fingerprint = fingerprintKey(statFingerprint(req.fitsPath));
  if (fingerprint === req.cachedFingerprint) return { fingerprint, header: null };
  return { fingerprint, header: headerMetadata(req.fitsPath, { maxBlocks: req.maxBlocks }) };
}

/** A failure as plain data (errors do not cross thread boundaries with their class). */
export interface RenderFailure {
  code: string;
  message: string;
  retryable: boolean;
}

export function runRender(req: RenderRequest): RenderOutput {
  const r = renderThumbnail(req.fitsPath, req.options);
  const key = fingerprintKey(r.fingerprint);
  if (key !== req.expectFingerprint) {
    throw fitsError('SOURCE_CHANGED', `${req.fitsPath} is not the file the job was made for`, {
      expected: req.expectFingerprint,
      actual: key,
    });
  }
  const t0 = performance.now();
  const pngPath = pngPathFor(req.outputDir, req.fitsPath, req.variant, key, req.look);
  writePng(pngPath, r.png);
  const write = performance.now() - t0;
  return {
    pngPath,
    pngBytes: r.png.length,
    width: r.width,
    height: r.height,
    vmin: r.vmin,
    vmax: r.vmax,
    nFinite: r.nFinite,
    plane: r.plane,
    nx: r.nx,
    ny: r.ny,
    bitpix: r.bitpix,
    hdu: r.hdu,
    fingerprint: { key, size: r.fingerprint.size, mtimeNs: r.fingerprint.mtimeNs, ino: r.fingerprint.ino },
    bytesRead: r.bytesRead,
    timings: { ...r.timings, write, total: r.timings.total + write },
    metadata: r.metadata,
    stats: r.stats,
  };
}

/** Node errnos that mean "the output file system is full": the worker pauses instead of spending attempts. */
const DISK_FULL_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);

/** The PNG into outputDir atomically; a full disk is DISK_FULL (retryable, no attempt spent). */
export function writePng(pngPath: string, png: Uint8Array): void {
  try {
    fs.mkdirSync(path.dirname(pngPath), { recursive: true });
    writeFileAtomic(pngPath, png);
  } catch (e) {
    const errno = (e as { code?: unknown } | null)?.code;
    if (typeof errno === 'string' && DISK_FULL_ERRNOS.has(errno))
      throw new RetryableError(`${pngPath}: ${(e as Error).message}`, {
        code: DISK_FULL,
        details: { errno },
      });
    throw e;
  }
}

export function toFailure(e: unknown): RenderFailure {
  const code = fitsCodeOf(e) ?? (e instanceof ContimgError ? e.code : 'IO_ERROR');
  const message = e instanceof Error ? e.message : String(e);
  const retryable = (e as { retryable?: unknown } | null)?.retryable;
  return { code, message, retryable: typeof retryable === 'boolean' ? retryable : true };
}
