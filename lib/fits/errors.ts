// Every FITS failure has a code and a retry decision (docs/thumbnail-worker.md, failure codes). Codes that describe the
// file itself are permanent; codes that describe a moment (a file still being written, replaced or gone)
// are retryable, and the worker's backoff decides how long to wait.
import fs from 'node:fs';
import { PermanentError, RetryableError, type ContimgError } from '../errors.js';

export const PERMANENT_CODES = [
  'NOT_FITS',
  'TOO_SMALL',
  'NO_END',
  'HEADER_TOO_LARGE',
  'BAD_BITPIX',
  'BAD_NAXIS',
  'NOT_IMAGE',
  'UNSUPPORTED_COMPRESSED',
  'UNSUPPORTED_FORMAT',
  'RANDOM_GROUPS',
  'TOO_LARGE',
  'ALL_NONFINITE',
  'BAD_PLANE',
  'NOT_REGULAR_FILE',
] as const;

export const RETRYABLE_CODES = [
  'TRUNCATED_HEADER',
  'TRUNCATED_DATA',
  'SOURCE_MISSING',
  'SOURCE_CHANGED',
  'IO_ERROR',
] as const;

export type PermanentFitsCode = (typeof PERMANENT_CODES)[number];
export type RetryableFitsCode = (typeof RETRYABLE_CODES)[number];
export type FitsErrorCode = PermanentFitsCode | RetryableFitsCode;
export const FITS_ERROR_CODES: readonly FitsErrorCode[] = [...PERMANENT_CODES, ...RETRYABLE_CODES];

/** Permanent codes after which the row is `skipped` rather than `failed`: the file is fine, we just won't draw it. */
export const SKIP_CODES: readonly FitsErrorCode[] = ['ALL_NONFINITE', 'UNSUPPORTED_FORMAT', 'TOO_LARGE'];

const RETRYABLE = new Set<string>(RETRYABLE_CODES);

export function isRetryableFitsCode(code: string): boolean {
  return RETRYABLE.has(code);
}

/** The error for a code: RetryableError or PermanentError from lib/errors, so callers need no FITS knowledge. */
export function fitsError(
  code: FitsErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): ContimgError {
  const opts = { code, details: { ...details, fitsCode: code } };
  return RETRYABLE.has(code) ? new RetryableError(message, opts) : new PermanentError(message, opts);
}

/** Map a Node system error from open/read/stat onto our codes (ENOENT → SOURCE_MISSING, others → IO_ERROR). */
export function ioError(e: unknown, path: string): ContimgError {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return fitsError('SOURCE_MISSING', `${path}: file not found`, { path });
  if (code === 'EISDIR')
    return fitsError('UNSUPPORTED_FORMAT', `${path}: a directory, not a FITS file`, { path });
  const msg = e instanceof Error ? e.message : String(e);
  return fitsError('IO_ERROR', `${path}: ${msg}`, {
    path,
    errno: typeof code === 'string' ? code : undefined,
  });
}

/** What a path is when it is not a regular file, for the NOT_REGULAR_FILE message. */
function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

function refuseNonRegular(st: fs.Stats, path: string): void {
  if (st.isFile()) return;
  if (st.isDirectory())
    throw fitsError('UNSUPPORTED_FORMAT', `${path}: a directory, not a FITS file`, { path });
  throw fitsError('NOT_REGULAR_FILE', `${path}: ${kindOf(st)}, not a regular file; refused unread`, { path });
}

/**
 * Open a regular file read-only. A FIFO, socket or device is refused before opening (opening a FIFO for
 * reading blocks until a writer appears, and no timeout can interrupt a blocked open), and the open itself
 * does not block (O_NONBLOCK) and is checked again with fstat, so a file swapped for a FIFO in between is
 * refused too. A failure to open becomes its FITS error (see ioError).
 */
export function openForRead(path: string): number {
  let fd: number;
  try {
    refuseNonRegular(fs.statSync(path), path);
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    throw fitsCodeOf(e) ? e : ioError(e, path);
  }
  try {
    refuseNonRegular(fs.fstatSync(fd), path);
  } catch (e) {
    fs.closeSync(fd);
    throw fitsCodeOf(e) ? e : ioError(e, path);
  }
  return fd;
}

/** The FITS code carried by an error, or undefined for errors that did not come from lib/fits. */
export function fitsCodeOf(e: unknown): FitsErrorCode | undefined {
  const code = (e as { details?: { fitsCode?: unknown } } | null)?.details?.fitsCode;
  return typeof code === 'string' && (FITS_ERROR_CODES as readonly string[]).includes(code)
    ? (code as FitsErrorCode)
    : undefined;
}
