#!/usr/bin/env node
// The contimg command. The command table (cli/registry.ts) says which module defines each command, so a
// command loads only its own module, and each module imports its implementation inside the action: an
// operator's `contimg lst` or `contimg --version` does not pay for every other command (docs/cli.md).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

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

async function main(argv: string[]): Promise<number> {
  const [{ CommanderError }, { buildProgram }, { exitCodeFor, reportError }] = await Promise.all([
    import('commander'),
    import('./program.js'),
    import('./util.js'),
  ]);
  try {
    const program = await buildProgram(argv.slice(2), { version: readVersion() });
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

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // The answer needs no command tree (the same text commander's -V prints).
  process.stdout.write(`${readVersion()}\n`);
} else {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`contimg: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
