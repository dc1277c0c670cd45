// contimg run <daemon> --config F: run one daemon in the foreground, exactly as its systemd unit does
// (same lifecycle: exit 78 on config/schema errors, SIGTERM/Ctrl-C drains). The daemon's run() is loaded
// lazily from daemons/<name>/run.(js|ts) next to this build.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { ContimgError } from '../../lib/errors.js';
import { DAEMONS, type DaemonName, type DaemonRun } from '../../lib/daemon/types.js';
import { locateConfigFile, requireConfig, UsageError } from '../util.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The daemons/ folder of this build (dist/daemons when compiled, daemons/ in a source checkout). */
export function daemonsRoot(): { root: string; ext: '.js' | '.ts' } {
  const compiled = here.includes(`${path.sep}dist${path.sep}`);
  return { root: path.resolve(here, '..', '..', 'daemons'), ext: compiled ? '.js' : '.ts' };
}

export function isDaemonName(name: string): name is DaemonName {
  return Object.hasOwn(DAEMONS, name);
}

/** Import daemons/<name>/run and return its run(); a clear error when the daemon is absent from this build. */
export async function loadDaemonRun(name: string, where = daemonsRoot()): Promise<DaemonRun> {
  if (!isDaemonName(name)) {
    throw new UsageError(`unknown daemon "${name}": expected one of ${Object.keys(DAEMONS).join(', ')}`);
  }
  const file = path.join(where.root, name, `run${where.ext}`);
  if (!fs.existsSync(file)) {
    throw new ContimgError(`daemon "${name}" is not part of this build: ${file} does not exist`, {
      code: 'DAEMON_ABSENT',
    });
  }
  const mod = (await import(pathToFileURL(file).href)) as { run?: unknown; default?: unknown };
  const run = mod.run ?? mod.default;
  if (typeof run !== 'function') {
    throw new ContimgError(`${file} does not export run(deps, signal)`, { code: 'DAEMON_ABSENT' });
  }
  return run as DaemonRun;
}

export function register(program: Command): void {
  program
    .command('run')
    .argument('<daemon>', `one of ${Object.keys(DAEMONS).join(', ')}`)
    .description('run one daemon in the foreground (as its systemd unit does); Ctrl-C drains and stops it')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .action(async (name: string, opts: { config?: string }) => {
      if (!isDaemonName(name)) await loadDaemonRun(name); // throws the usage error with the list of names
      requireConfig(opts.config); // a config problem is exit 78 whether or not the daemon is built
      const run = await loadDaemonRun(name);
      const { runDaemonMain } = await import('../../lib/daemon/main.js');
      // The file the lookup found (already named on stderr), passed on as the systemd unit passes it.
      const file = locateConfigFile(opts.config).path;
      await runDaemonMain({ name: name as DaemonName, run, argv: ['--config', file] });
    });
}
