// One pino root per process (JSON to stdout for journald), created by the entry point and passed down.
// Library code takes a Logger and makes children; it never configures logging.
import os from 'node:os';
import { pino, type Logger, type DestinationStream } from 'pino';
import { isSecretKey, REDACTED } from './config/redact.js';

export type { Logger } from 'pino';

/** Paths pino censors wherever they occur in a log line (one and two levels deep). */
const SECRET_KEYS = ['token', 'password', 'pass', 'secret', 'webhookUrl', 'apiKey', 'authorization'];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/**
 * Deeper than the fixed paths reach (a whole config section logged as `{ cfg }`, nested details): replace
 * every string under a secret-looking key (lib/config's pattern). Copies only along the path to a secret;
 * errors and binary data are left to pino's serializers and the fixed paths.
 */
function scrub(v: unknown, depth = 0): unknown {
  if (depth > 8 || v === null || typeof v !== 'object' || v instanceof Error || ArrayBuffer.isView(v))
    return v;
  if (Array.isArray(v)) {
    const out = v.map((x) => scrub(x, depth + 1));
    return out.some((x, i) => x !== v[i]) ? out : v;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const y = typeof x === 'string' && isSecretKey(k) ? REDACTED : scrub(x, depth + 1);
    if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
  }
  return out ?? v;
}

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
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => scrub(obj) as Record<string, unknown>,
      },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

/** A logger that drops everything: for tests and one-shot CLI commands with --json. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
