// Run a child (a dispatcher runs an attempt's supervisor): spawn with an argv array (never a shell),
// detached into its own process group so a timeout or shutdown can kill everything it started; keep only the
// tails of stdout/stderr.
import { spawn } from 'node:child_process';
import { signalGroup } from './procs.js';

export const TAIL_BYTES = 8192;

export class Tail {
  private buf = Buffer.alloc(0);
  constructor(private readonly max = TAIL_BYTES) {}
  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > this.max) this.buf = this.buf.subarray(this.buf.length - this.max);
  }
  text(): string {
    return this.buf.toString('utf8');
  }
}

export interface ChildResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  spawnError: string | null;
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
}

export interface ChildOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv | undefined;
  timeoutMs: number;
  killGraceMs: number;
  /** Aborting stops the child (SIGTERM to the group, SIGKILL after killGraceMs). */
  signal: AbortSignal;
  onSpawn: (pid: number) => void;
  now: () => number;
}

export function runChild(o: ChildOptions): Promise<ChildResult> {
  const started = o.now();
  const out = new Tail();
  const err = new Tail();
  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const child = spawn(o.argv[0], o.argv.slice(1), {
      cwd: o.cwd,
      env: o.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stop = (why: 'timeout' | 'abort'): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      if (why === 'timeout') timedOut = true;
      else aborted = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(
        () => child.pid !== undefined && signalGroup(child.pid, 'SIGKILL'),
        o.killGraceMs,
      );
    };
    const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
    const onAbort = (): void => stop('abort');
    o.signal.addEventListener('abort', onAbort, { once: true });
    const finish = (r: Partial<ChildResult>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      o.signal.removeEventListener('abort', onAbort);
      // Whatever the leader did, nothing it started may outlive the attempt.
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      resolve({
        exitCode: null,
        signal: null,
        timedOut,
        aborted,
        spawnError: null,
        stdoutTail: out.text(),
        stderrTail: err.text(),
        durationMs: o.now() - started,
        ...r,
      });
    };
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', (e) => finish({ spawnError: e.message }));
    child.once('spawn', () => {
      if (child.pid !== undefined) o.onSpawn(child.pid);
      if (o.signal.aborted) stop('abort');
    });
    // The leader is gone: stop what it left behind now, or a descendant holding stdout/stderr open would
    // keep 'close' (and the attempt) waiting forever, out of reach of the timeout.
    child.once('exit', () => child.pid !== undefined && signalGroup(child.pid, 'SIGKILL'));
    child.once('close', (code, sig) => finish({ exitCode: code, signal: sig }));
  });
}
