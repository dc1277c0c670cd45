// Run the real `contimg` CLI as a child process (through tsx from the source tree, or the built one in dist/)
// and collect its output.
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll } from 'vitest';
import { REPO_ROOT } from './tmp.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const CLI_ENTRY = path.join(REPO_ROOT, 'cli', 'contimg.ts');
/** The built CLI, as an operator runs it (build first: `npx tsc -p tsconfig.build.json`). */
export const BUILT_CLI = path.join(REPO_ROOT, 'dist', 'cli', 'contimg.js');

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run dist/cli/contimg.js instead of the source through tsx. */
  built?: boolean;
}

/** tsx's loader by absolute URL: `--import tsx` would resolve from the working directory, which is not ours. */
const TSX = pathToFileURL(createRequire(path.join(REPO_ROOT, 'package.json')).resolve('tsx')).href;

let emptyDir: string | undefined;

/**
 * The default working directory of CLI runs: an empty folder, so the config lookup never finds a
 * ./var/contimg.yaml that `npm start` left in the checkout. One per test file, removed after it.
 */
export function emptyCwd(): string {
  emptyDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-cli-cwd-'));
  return emptyDir;
}

// Each test file gets its own module instance (vitest isolates files): remove its folder when the file is done.
afterAll(() => {
  if (emptyDir !== undefined) fs.rmSync(emptyDir, { recursive: true, force: true });
  emptyDir = undefined;
});

/**
 * Start the CLI; `done` resolves with its exit code and output. Hermetic config lookup unless the test says
 * otherwise: CONTIMG_CONFIG cleared, the working directory an empty folder, and the system-wide path
 * (CONTIMG_SYSTEM_CONFIG, docs/cli.md) pointed at a file that does not exist, so a host's real
 * /etc/contimg/contimg.yaml never leaks into a test.
 */
export function spawnCli(
  args: string[],
  opts: CliOptions = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  let child!: ChildProcess;
  const done = new Promise<CliResult>((resolve) => {
    child = execFile(
      process.execPath,
      opts.built ? [BUILT_CLI, ...args] : ['--import', TSX, CLI_ENTRY, ...args],
      {
        cwd: opts.cwd ?? emptyCwd(),
        env: {
          ...process.env,
          CONTIMG_CONFIG: '',
          CONTIMG_SYSTEM_CONFIG: path.join(emptyCwd(), 'no-system-config.yaml'),
          ...opts.env,
        },
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
  return { child, done };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, opts).done;
}
