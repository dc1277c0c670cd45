import { describe, expect, it } from 'vitest';
import {
  classifySqlite,
  DbBusyError,
  DbConstraintError,
  DbCorruptError,
  DbIoError,
  httpStatusFor,
  InvalidStateError,
  isRetryable,
  NotFoundError,
  toEnvelope,
  ValidationError,
} from '../../../lib/errors.js';

function sqliteError(code: string): Error {
  return Object.assign(new Error(`boom ${code}`), { code });
}

describe('errors', () => {
  it.each([
    ['SQLITE_BUSY', DbBusyError, true],
    ['SQLITE_BUSY_SNAPSHOT', DbBusyError, true],
    ['SQLITE_CONSTRAINT_UNIQUE', DbConstraintError, false],
    ['SQLITE_FULL', DbIoError, true],
    ['SQLITE_IOERR_WRITE', DbIoError, true],
    ['SQLITE_CORRUPT', DbCorruptError, false],
  ] as const)('classifies %s', (code, cls, retryable) => {
    const e = classifySqlite(sqliteError(code), { db: 'state' });
    expect(e).toBeInstanceOf(cls);
    expect(isRetryable(e)).toBe(retryable);
  });

  it('leaves non-SQLite errors alone', () => {
    const e = new Error('plain');
    expect(classifySqlite(e)).toBe(e);
    expect(isRetryable(e)).toBe(false);
    expect(isRetryable(Object.assign(new Error('x'), { code: 'EBUSY' }))).toBe(true);
  });

  it('maps API errors to the seeds status table and a stable envelope', () => {
    expect(httpStatusFor(new NotFoundError('no such group', { group: 'g' }))).toBe(404);
    expect(httpStatusFor(new ValidationError('bad'))).toBe(400);
    expect(httpStatusFor(new InvalidStateError('running'))).toBe(409);
    expect(httpStatusFor(new Error('x'))).toBe(500);
    expect(toEnvelope(new NotFoundError('no such group', { group: 'g' }))).toEqual({
      error: 'NOT_FOUND',
      message: 'no such group',
      details: { group: 'g' },
    });
    // Internal errors never leak their message to API clients.
    expect(toEnvelope(new Error('secret path /etc/x'))).toEqual({
      error: 'INTERNAL_ERROR',
      message: 'internal error',
      details: {},
    });
  });
});
