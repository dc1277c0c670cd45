// A handful of error classes that carry a decision: retry or not, and which HTTP status a JSON API returns.
// Everything thrown across a module boundary is one of these or is coerced into one by coerceError().

export interface ErrorEnvelope {
  error: string;
  message: string;
  details: Record<string, unknown>;
}

export class ContimgError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;
  readonly httpStatus: number;

  constructor(
    message: string,
    opts: {
      code?: string;
      retryable?: boolean;
      details?: Record<string, unknown>;
      cause?: unknown;
      httpStatus?: number;
    } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code ?? 'INTERNAL_ERROR';
    this.retryable = opts.retryable ?? false;
    this.details = opts.details ?? {};
    this.httpStatus = opts.httpStatus ?? 500;
  }

  toEnvelope(): ErrorEnvelope {
    return { error: this.code, message: this.message, details: this.details };
  }
}

/** A bad config file or flag: the process cannot start. Exit 78 (EX_CONFIG). */
export class ConfigError extends ContimgError {
  readonly issues: string[];
  constructor(message: string, issues: string[] = [], cause?: unknown) {
    super(message, { code: 'CONFIG_ERROR', retryable: false, httpStatus: 500, cause, details: { issues } });
    this.issues = issues;
  }
}

/** The database schema is not the one this build expects. Exit 78. */
export class SchemaVersionError extends ContimgError {
  constructor(message: string, details: { db: string; expected: number; actual: number }) {
    super(message, { code: 'SCHEMA_VERSION_MISMATCH', retryable: false, details });
  }
}

/** Worth trying again later: a busy database, a channel that is down, a file still being written. */
export class RetryableError extends ContimgError {
  constructor(
    message: string,
    opts: { code?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { code: opts.code ?? 'RETRYABLE', retryable: true, httpStatus: 503, ...opts });
  }
}

/** Trying again will not help: bad input, a corrupt file, a rejected request. */
export class PermanentError extends ContimgError {
  constructor(
    message: string,
    opts: { code?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { code: opts.code ?? 'PERMANENT', retryable: false, httpStatus: 422, ...opts });
  }
}

/** The write lock could not be had within the budget (SQLITE_BUSY after retries). */
export class DbBusyError extends RetryableError {
  constructor(message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { code: 'DB_BUSY', ...opts });
  }
}

/** Disk full or an I/O error: retryable, but an operator must usually act. */
export class DbIoError extends RetryableError {
  constructor(
    message: string,
    opts: { code?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { code: opts.code ?? 'DB_IO', ...opts });
  }
}

/** A constraint was violated: the write is wrong, not unlucky. */
export class DbConstraintError extends PermanentError {
  constructor(message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { code: 'DB_CONSTRAINT', ...opts });
  }
}

/** The database file is damaged. Never retried automatically. */
export class DbCorruptError extends PermanentError {
  constructor(message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { code: 'DB_CORRUPT', ...opts });
  }
}

/**
 * The Slurm controller did not answer (slurmctld down, a network fault, a timeout). The decision it carries:
 * try again after `retryInMs` (the one backoff helper, by consecutive failures), and never submit a job a
 * second time because of it: the first may have reached the controller.
 */
export class SlurmUnreachableError extends RetryableError {
  readonly retryInMs: number;
  constructor(
    message: string,
    opts: { command: string; retryInMs: number; failures: number; cause?: unknown },
  ) {
    super(message, {
      code: 'SLURM_UNREACHABLE',
      details: { command: opts.command, retryInMs: opts.retryInMs, failures: opts.failures },
      cause: opts.cause,
    });
    this.retryInMs = opts.retryInMs;
  }
}

/** Slurm answered and refused (an unknown partition, a bad option, a missing command): retrying will not help. */
export class SlurmRejectedError extends PermanentError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'SLURM_REJECTED', details });
  }
}

/** A lease or fencing token no longer belongs to the caller: someone else owns the work now. */
export class LeaseLostError extends ContimgError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'LEASE_LOST', retryable: false, httpStatus: 409, details });
  }
}

/** The process is shutting down; the work was not started or was aborted. */
export class ShutdownError extends ContimgError {
  constructor(message = 'shutting down') {
    super(message, { code: 'SHUTDOWN', retryable: true, httpStatus: 503 });
  }
}

/** JSON API errors: the seeds' exception-to-HTTP table. */
export class NotFoundError extends ContimgError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'NOT_FOUND', httpStatus: 404, details });
  }
}
export class ValidationError extends ContimgError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'VALIDATION_ERROR', httpStatus: 400, details });
  }
}
export class InvalidStateError extends ContimgError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'INVALID_STATE', httpStatus: 409, details });
  }
}
export class UnauthorizedError extends ContimgError {
  constructor(message = 'missing or invalid token') {
    super(message, { code: 'UNAUTHORIZED', httpStatus: 401 });
  }
}

export function coerceError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e));
}

export function isRetryable(e: unknown): boolean {
  if (e instanceof ContimgError) return e.retryable;
  const code = (e as { code?: unknown } | null)?.code;
  // Node system errors that are usually transient.
  return (
    typeof code === 'string' &&
    ['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ETIMEDOUT', 'ECONNRESET'].includes(code)
  );
}

export function httpStatusFor(e: unknown): number {
  return e instanceof ContimgError ? e.httpStatus : 500;
}

export function toEnvelope(e: unknown): ErrorEnvelope {
  if (e instanceof ContimgError) return e.toEnvelope();
  return { error: 'INTERNAL_ERROR', message: 'internal error', details: {} };
}

/** Map a better-sqlite3 SqliteError (by its `code`) onto the classes above. */
export function classifySqlite(e: unknown, details: Record<string, unknown> = {}): Error {
  const err = coerceError(e);
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const d = { ...details, sqliteCode: code };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return new DbBusyError(err.message, { details: d, cause: e });
  if (code.startsWith('SQLITE_CONSTRAINT'))
    return new DbConstraintError(err.message, { details: d, cause: e });
  if (code === 'SQLITE_FULL') return new DbIoError(err.message, { code: 'DB_FULL', details: d, cause: e });
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN')
    return new DbIoError(err.message, { details: d, cause: e });
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
    return new DbCorruptError(err.message, { details: d, cause: e });
  return err;
}

/** Exit codes used by every entry point. */
export const EXIT = Object.freeze({ OK: 0, FAILURE: 1, USAGE: 2, DRIFT: 3, LOCKED: 4, CONFIG: 78 });
