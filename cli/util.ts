// Helpers every CLI command uses: config location, JSON output, exit codes. Light on purpose: every command
// module imports this file and `contimg --help` loads every command module, so the YAML parser and the config
// schema (lib/config/index.ts) are loaded only when a command is about to read a config (see
// loadConfigSupport), and databases only inside withDatabase.
import { ConfigError, ContimgError, EXIT, SchemaVersionError } from '../lib/errors.js';
import { configNotice, findConfig, locateConfig, type LocatedConfig } from '../lib/config/locate.js';
import type * as ConfigLib from '../lib/config/index.js';
import type { Config } from '../lib/config/index.js';
import type { Db } from '../lib/db/index.js';
import { MAX_LIMIT, parseCount } from '../lib/paging.js';

type ConfigModule = typeof ConfigLib;
let configModule: ConfigModule | undefined;

/**
 * Load the config loader (YAML and the schema: the costly part of reading a config). contimg.ts calls this
 * before the action of any command that takes --config when a config file is found, so requireConfig can stay
 * synchronous while `contimg lst` without a config never pays for it.
 */
export async function loadConfigSupport(): Promise<void> {
  configModule ??= await import('../lib/config/index.js');
}

let announced = false;

const lookup = (explicit: string | undefined) => ({ explicit, env: process.env, cwd: process.cwd() });

/**
 * The config file to use (lookup order in lib/config/locate.ts: --config, $CONTIMG_CONFIG, ./var/contimg.yaml,
 * /etc/contimg/contimg.yaml), or a ConfigError naming every place tried. A file not named with --config is
 * announced on stderr, once per process.
 */
export function locateConfigFile(opt: string | undefined): LocatedConfig {
  const located = locateConfig(lookup(opt));
  const notice = configNotice(located);
  if (notice && !announced) process.stderr.write(`contimg: ${notice}\n`);
  announced = true;
  return located;
}

/** The config file the lookup would use, or undefined (for commands whose config is optional). */
export function configPath(opt: string | undefined): string | undefined {
  return findConfig(lookup(opt)).found?.path;
}

/** The config, loaded and validated (exit 78 with the key path on a problem; see locateConfigFile). */
export function requireConfig(opt: string | undefined): Config {
  const located = locateConfigFile(opt);
  if (!configModule)
    throw new ContimgError(
      'internal: the config loader was not loaded before this action (commands that read a config must declare --config)',
    );
  return configModule.loadConfigFile(located.path);
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
