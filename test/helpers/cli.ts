// Run the real `contimg` CLI as a child process (through tsx, from the source tree) and collect its output.
import { execFile, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './tmp.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const CLI_ENTRY = path.join(REPO_ROOT, 'cli', 'contimg.ts');

/** Start the CLI; `done` resolves with its exit code and output. CONTIMG_CONFIG is cleared unless given. */
export function spawnCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  let child!: ChildProcess;
  const done = new Promise<CliResult>((resolve) => {
    child = execFile(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, ...args],
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

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return spawnCli(args, opts).done;
}
