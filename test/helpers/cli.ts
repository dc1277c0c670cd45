// Run the real `contimg` CLI as a child process (through tsx from the source tree, or the built one in dist/)
// and collect its output.
import { execFile, type ChildProcess } from 'node:child_process';
import path from 'node:path';
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

/** Start the CLI; `done` resolves with its exit code and output. CONTIMG_CONFIG is cleared unless given. */
export function spawnCli(
  args: string[],
  opts: CliOptions = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  let child!: ChildProcess;
  const done = new Promise<CliResult>((resolve) => {
    child = execFile(
      process.execPath,
      opts.built ? [BUILT_CLI, ...args] : ['--import', 'tsx', CLI_ENTRY, ...args],
      {
        cwd: opts.cwd ?? REPO_ROOT,
        env: { ...process.env, CONTIMG_CONFIG: '', ...opts.env },
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
