// One pino root per process (JSON to stdout for journald), created by the entry point and passed down.
// Library code takes a Logger and makes children; it never configures logging.
import os from 'node:os';
import { pino, type Logger, type DestinationStream } from 'pino';
import { REDACTED } from './config/redact.js';

export type { Logger } from 'pino';

/** Paths pino censors wherever they occur in a log line (one and two levels deep). */
const SECRET_KEYS = ['token', 'password', 'pass', 'secret', 'webhookUrl', 'apiKey', 'authorization'];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LoggerOptions {
  daemon: string;
  level?: string;
  version?: string;
  /** Where lines go; stdout (synchronous) by default. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { daemon: opts.daemon, version: opts.version, host: os.hostname(), pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

/** A logger that drops everything: for tests and one-shot CLI commands with --json. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
