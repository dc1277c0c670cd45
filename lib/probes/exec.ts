// Run a probe command (systemctl, docker, nvidia-smi) with an argument array, never a shell, and a hard
// deadline. The child gets its own process group and the whole group is SIGKILLed at the deadline or when
// the caller's signal aborts, and the answer comes at once: a wrapper script's grandchild (a `sleep` in a
// shim, a hung D-Bus call) would otherwise hold the output pipes open and delay execFile's callback until
// it exits by itself.
import { spawn } from 'node:child_process';
import { kill as processKill } from 'node:process';

export interface ProbeCommandOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Output kept per stream (bytes); the rest is dropped. */
  maxOutputBytes?: number;
}

export type ProbeCommandResult =
  | {
      kind: 'exited';
      code: number | null;
      signal: NodeJS.Signals | null;
      stdout: string;
      stderr: string;
      ms: number;
    }
  /** The deadline passed (or the signal aborted) and the process group was killed. */
  | { kind: 'timeout'; stdout: string; stderr: string; ms: number }
  /** The command could not be started: ENOENT (not installed), EACCES, … */
  | { kind: 'spawn-error'; code: string; message: string; ms: number };

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    processKill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export function runProbeCommand(
  file: string,
  args: readonly string[],
  o: ProbeCommandOptions,
): Promise<ProbeCommandResult> {
  const t0 = performance.now();
  const max = o.maxOutputBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    if (o.signal?.aborted) return resolve({ kind: 'timeout', stdout: '', stderr: '', ms: 0 });
    let settled = false;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    const child = spawn(file, args, {
      env: o.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');
    const finish = (r: ProbeCommandResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const onAbort = (): void => {
      killGroup(child.pid);
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish({ kind: 'timeout', stdout: text(out), stderr: text(err), ms: performance.now() - t0 });
    };
    const timer = setTimeout(onAbort, o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (c: Buffer) => {
      if (outBytes < max) out.push(c.subarray(0, max - outBytes));
      outBytes += c.length;
    });
    child.stderr!.on('data', (c: Buffer) => {
      if (errBytes < max) err.push(c.subarray(0, max - errBytes));
      errBytes += c.length;
    });
    child.once('error', (e: NodeJS.ErrnoException) =>
      finish({
        kind: 'spawn-error',
        code: e.code ?? 'ERROR',
        message: e.message,
        ms: performance.now() - t0,
      }),
    );
    child.once('close', (code, sig) =>
      finish({
        kind: 'exited',
        code,
        signal: sig,
        stdout: text(out),
        stderr: text(err),
        ms: performance.now() - t0,
      }),
    );
    // A short-lived probe's own exit ends it; leftovers of its group (a backgrounded helper) are killed too.
    child.once('exit', () => setImmediate(() => killGroup(child.pid)));
  });
}
