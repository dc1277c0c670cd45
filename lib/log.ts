// One pino root per process (JSON to stdout for journald), created by the entry point and passed down.
// Library code takes a Logger and makes children; it never configures logging.
import os from 'node:os';
import { pino, type Logger, type DestinationStream, type LogFn } from 'pino';
import { redact, redactError, SecretScrubber } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  daemon: string;
  level?: string;
  version?: string;
  /** Where lines go; stdout (synchronous) by default. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
  /** The secrets this process knows (lib/config's configScrubber): scrubbed from every string logged. */
  scrubber?: SecretScrubber;
}

/**
 * Every line goes through lib/redact: fields under secret-looking keys at any depth, `env` maps, masked
 * `argv`, secrets inside strings (URL credentials, query tokens, known values), child bindings, the message
 * text and errors (message, stack and own fields; transport internals such as axios' `config` dropped).
 */
export function createLogger(opts: LoggerOptions): Logger {
  const scrubber = opts.scrubber ?? new SecretScrubber();
  const clean = (obj: Record<string, unknown>): Record<string, unknown> => redact(obj, scrubber);
  const root = pino(
    {
      level: opts.level ?? 'info',
      base: { daemon: opts.daemon, version: opts.version, host: os.hostname(), pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        err: (e: Error) => redactError(pino.stdSerializers.err(e), scrubber),
      },
      hooks: {
        logMethod(args: Parameters<LogFn>, method: LogFn) {
          const scrubbed = args.map((a: unknown) => (typeof a === 'string' ? scrubber.scrub(a) : a));
          return method.apply(this, scrubbed as Parameters<LogFn>);
        },
      },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: clean,
        log: clean,
      },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: true }),
  );
  // pino applies formatters.bindings to the root only; children inherit this child(), so every level of
  // child bindings is redacted too.
  const child = root.child;
  root.child = function (this: Logger, bindings, options) {
    return child.call(this, clean(bindings), options);
  } as typeof root.child;
  return root;
}

/** A logger that drops everything: for tests and one-shot CLI commands with --json. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
