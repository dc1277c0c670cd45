// Helpers every CLI command uses: config location, JSON output, exit codes.
import { ConfigError, ContimgError, EXIT, SchemaVersionError } from '../lib/errors.js';
import { loadConfigFile, type Config } from '../lib/config/index.js';
import type { Db } from '../lib/db/index.js';
import { MAX_LIMIT, parseCount } from '../lib/paging.js';

/** --config wins, then CONTIMG_CONFIG; commands that can run without a config pass required=false. */
export function configPath(opt: string | undefined): string | undefined {
  return opt ?? process.env.CONTIMG_CONFIG ?? undefined;
}

export function requireConfig(opt: string | undefined): Config {
  const p = configPath(opt);
  if (!p)
    throw new ConfigError('no config file: pass --config FILE or set CONTIMG_CONFIG', ['--config: missing']);
  return loadConfigFile(p);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof ConfigError || e instanceof SchemaVersionError) return EXIT.CONFIG;
  if (e instanceof ContimgError && e.code === 'USAGE') return EXIT.USAGE;
  if (e instanceof ContimgError && e.code === 'DRIFT') return EXIT.DRIFT;
  if (e instanceof ContimgError && (e.code === 'DB_BUSY' || e.code === 'LEASE_BUSY')) return EXIT.LOCKED;
  return EXIT.FAILURE;
}

/** One line to stderr: the message (which names the key path for config errors), never a secret. */
export function reportError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`contimg: ${msg}\n`);
}

/** A usage error (exit 2) raised by a command's own argument checks. */
export class UsageError extends ContimgError {
  constructor(message: string) {
    super(message, { code: 'USAGE', httpStatus: 400 });
  }
}

/** Parse "24h", "7d", "90m", "30s" or a bare number of seconds into milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`bad duration "${text}": expected e.g. 30s, 90m, 24h, 7d`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000;
  return n * factor;
}

/**
 * Open one database from the config, check its schema against this build, run fn, close. The one way CLI
 * commands reach a database (lazy imports keep `contimg --help` fast).
 */
export async function withDatabase<T>(
  config: Config,
  set: 'state' | 'pipeline',
  fn: (db: Db) => T | Promise<T>,
  opts: { readonly?: boolean } = {},
): Promise<T> {
  const { openDb } = await import('../lib/db/index.js');
  const { assertSchema } = await import('../lib/migrations/index.js');
  const db = openDb({
    name: set,
    path: config.databases[set],
    readonly: opts.readonly ?? set === 'pipeline',
    busyTimeoutMs: config.databases.busyTimeoutMs,
    writeBudgetMs: config.databases.writeBudgetMs,
  });
  try {
    assertSchema(db, set);
    return await fn(db);
  } finally {
    db.close();
  }
}

/** A commander option parser for a non-negative number (integer when asked); a bad value is a usage error. */
export function numberOption(flag: string, opts: { integer?: boolean; min?: number } = {}) {
  const min = opts.min ?? 0;
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < min || (opts.integer && !Number.isInteger(n)))
      throw new UsageError(
        `${flag}: expected ${opts.integer ? 'an integer' : 'a number'} ≥ ${min}, got "${text}"`,
      );
    return n;
  };
}

/** The commander parser for `--limit`: the same rule as the API's `?limit=` (1..MAX_LIMIT, lib/paging). */
export function limitOption(text: string): number {
  const n = parseCount(text, '--limit', 1, MAX_LIMIT);
  if (typeof n === 'string') throw new UsageError(n);
  return n;
}
