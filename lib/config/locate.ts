// Which config file a command or daemon uses, in one documented order (docs/cli.md "Which config file"):
// --config, then $CONTIMG_CONFIG, then ./var/contimg.yaml when it exists (what `npm start` writes), then
// /etc/contimg/contimg.yaml when it exists. The first two are explicit: a missing file there is an error, never
// a silent fall-through to another file. Light on purpose (no YAML or schema): `contimg --help` imports it.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

/** The system-wide config of an installed host (docs/deploy.md). */
export const SYSTEM_CONFIG = '/etc/contimg/contimg.yaml';
/** What `contimg dev` (`npm start`) writes, relative to the working directory. */
export const LOCAL_CONFIG = path.join('var', 'contimg.yaml');
/**
 * Replaces SYSTEM_CONFIG in the lookup. For tests (which must not read or write /etc) and unusual installs;
 * documented in docs/cli.md.
 */
export const SYSTEM_CONFIG_ENV = 'CONTIMG_SYSTEM_CONFIG';

export type ConfigSource = 'option' | 'env' | 'local' | 'system';

export interface LocatedConfig {
  /** Absolute path of the file to load. */
  path: string;
  source: ConfigSource;
  /** Where it came from, as the stderr notice says it: "--config", "from $CONTIMG_CONFIG", …. */
  place: string;
}

export interface LocateOptions {
  /** The --config value, if given. */
  explicit?: string;
  /** The process environment (lib code does not read process itself). */
  env: NodeJS.ProcessEnv;
  /** The working directory ./var/contimg.yaml is looked up in. */
  cwd: string;
}

/** The non-empty value of an environment variable (an empty one counts as unset, as in the shell idiom X=). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** The config to use, or undefined (with the places tried) when there is none. Never reads the file. */
export function findConfig(opts: LocateOptions): { found?: LocatedConfig; tried: string[] } {
  const { env, cwd } = opts;
  if (opts.explicit !== undefined && opts.explicit !== '')
    return {
      found: { path: path.resolve(cwd, opts.explicit), source: 'option', place: '--config' },
      tried: [],
    };
  const fromEnv = envValue(env, 'CONTIMG_CONFIG');
  if (fromEnv !== undefined)
    return {
      found: { path: path.resolve(cwd, fromEnv), source: 'env', place: 'from $CONTIMG_CONFIG' },
      tried: [],
    };
  const local = path.resolve(cwd, LOCAL_CONFIG);
  const system = path.resolve(envValue(env, SYSTEM_CONFIG_ENV) ?? SYSTEM_CONFIG);
  const tried = ['--config (not given)', '$CONTIMG_CONFIG (not set)'];
  if (fs.existsSync(local))
    return { found: { path: local, source: 'local', place: `from ./${LOCAL_CONFIG}` }, tried };
  tried.push(`./${LOCAL_CONFIG} (${local}: no such file)`);
  if (fs.existsSync(system))
    return { found: { path: system, source: 'system', place: 'the system-wide default' }, tried };
  tried.push(`${system} (no such file)`);
  return { tried };
}

/** findConfig, or a ConfigError (exit 78) that lists every place tried. */
export function locateConfig(opts: LocateOptions): LocatedConfig {
  const { found, tried } = findConfig(opts);
  if (found) return found;
  throw new ConfigError(
    `no config file: tried ${tried.join(', ')}; pass --config FILE or set CONTIMG_CONFIG`,
    ['--config: missing'],
  );
}

/** The one stderr line saying which file was used, for a config that was not named with --config. */
export function configNotice(c: LocatedConfig): string | undefined {
  return c.source === 'option' ? undefined : `using config ${c.path} (${c.place})`;
}
