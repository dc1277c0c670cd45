// contimg dev's output for a person: the status page line, and daemon log lines pretty at a terminal (time,
// level, daemon, message, fields) or unchanged JSON with the daemon's name otherwise.
import { describe, expect, it } from 'vitest';
import { lineFormatter, statusPageLine, statusPageUrl } from '../../../cli/dev-output.js';

const LINE = JSON.stringify({
  level: 'warn',
  time: '2026-12-03T12:00:01.234Z',
  daemon: 'scheduler',
  version: '0.1.0',
  host: 'dsa-storage',
  pid: 4242,
  job: 'flux',
  msg: 'job failed',
});

describe('contimg dev output', () => {
  it('puts the status page URL on loopback for a wildcard bind, and never prints the token', () => {
    expect(statusPageUrl('127.0.0.1', 9310)).toBe('http://127.0.0.1:9310/');
    expect(statusPageUrl('0.0.0.0', 9310)).toBe('http://127.0.0.1:9310/');
    expect(statusPageUrl('::', 9311)).toBe('http://[::1]:9311/');
    expect(statusPageLine('127.0.0.1', 9310, false)).toBe('Status page: http://127.0.0.1:9310/\n');
    expect(statusPageLine('10.0.0.5', 9310, true)).toMatch(
      /^Status page: http:\/\/10\.0\.0\.5:9310\/\?token=<the http token>/,
    );
  });

  it('shows a JSON log line human-readable at a terminal: UTC time, level, daemon, message, key fields', () => {
    const out = lineFormatter('scheduler', { colorize: false })(LINE);
    expect(out).toBe('[12:00:01.234] WARN: scheduler: job failed {"job":"flux"}\n');
    expect(out).not.toMatch(/4242|dsa-storage/);
  });

  it('keeps lines that are not log objects, and everything in a pipe, as written with the daemon name', () => {
    expect(lineFormatter('scheduler', { colorize: false })('node: warning')).toBe(
      '[scheduler] node: warning\n',
    );
    expect(lineFormatter('scheduler', null)(LINE)).toBe(`[scheduler] ${LINE}\n`);
  });
});
