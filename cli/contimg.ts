#!/usr/bin/env node
// The contimg command. Every file in cli/commands/ exports register(program); commands import heavy
// modules lazily inside their actions so `contimg --help` stays fast.
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { exitCodeFor, reportError } from './util.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(argv: string[]): Promise<number> {
  const program = new Command('contimg')
    .description('DSA-110 continuum-imaging host daemons and operator tools')
    .version(readVersion(), '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  const dir = path.join(here, 'commands');
  const ext = here.includes(`${path.sep}dist${path.sep}`) ? '.js' : '.ts';
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
  for (const f of files) {
    // One broken command module must not take every other command (e.g. migrate) down with it.
    try {
      const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as {
        register?: (p: Command) => void;
      };
      mod.register?.(program);
    } catch (e) {
      process.stderr.write(`contimg: cannot load commands from ${f}: ${(e as Error).message}\n`);
    }
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0)
        return 0;
      return 2;
    }
    reportError(e);
    return exitCodeFor(e);
  }
}

function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(fs.readFileSync(path.join(here, rel), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout (source vs dist) */
    }
  }
  return '0.0.0';
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    reportError(e);
    process.exitCode = 1;
  },
);
