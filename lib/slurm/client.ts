// The Slurm commands, each through execFile with an argument array (never a shell), SLURM_CONF from config
// when given, parsable output, and a deadline (a client waits ~10–20 s for a controller that is down).
// Failures become decisions: the controller did not answer → SlurmUnreachableError (retry after the backoff
// it carries; never a second submission because of it); Slurm answered no → SlurmRejectedError.
import { execFile } from 'node:child_process';
import { env as processEnv } from 'node:process';
import { BACKOFF_PRESETS, backoffMs, type BackoffPolicy } from '../backoff.js';
import { SlurmRejectedError, SlurmUnreachableError } from '../errors.js';
import { sbatchArgv, type SbatchJob, type SbatchOptions } from './args.js';
import { parseExitCode, slurmPhase, type SlurmPhase } from './states.js';

export type SlurmCommand = 'sbatch' | 'squeue' | 'sacct' | 'scancel';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** ENOENT and the like: the command could not be run at all. */
  spawnError?: string;
}

export type Exec = (
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
) => Promise<ExecResult>;

export const execCommand: Exec = (cmd, args, env, timeoutMs) =>
  new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env, timeout: timeoutMs, maxBuffer: 4 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
        if (typeof e.code === 'string' && !e.killed)
          return resolve({ code: null, stdout, stderr, spawnError: e.message });
        const code = typeof e.code === 'number' ? e.code : null;
        resolve({ code, stdout, stderr: e.killed ? `${stderr}\n(timed out after ${timeoutMs} ms)` : stderr });
      },
    );
  });

/** What Slurm prints when the controller cannot be reached (or the command gave up waiting for it). */
const UNREACHABLE =
  /Unable to contact slurm controller|Socket timed out|Connection refused|connect failure|Communication connection failure|Zero Bytes were transmitted|timed out after|Slurm backup controller in standby|Transport endpoint/i;
/** `squeue -j ID` for an ID the controller no longer (or never) knew. */
const UNKNOWN_JOB = /Invalid job id specified/i;
/** Without slurmdbd plain sacct refuses; `sacct -c` reads the job completion file instead. */
const NO_ACCOUNTING = /accounting storage is disabled/i;

export interface SlurmClientOptions {
  /** SLURM_CONF for every command; otherwise the environment's. */
  slurmConf?: string;
  env?: NodeJS.ProcessEnv;
  exec?: Exec;
  /** Per command; a controller that is down takes ~10–20 s to be reported. */
  timeoutMs?: number;
  /** Delays between tries while the controller does not answer. */
  retryPolicy?: BackoffPolicy;
  /** Every command run, for metrics and the call-rate figure. */
  onCall?: (cmd: SlurmCommand, result: 'ok' | 'error' | 'unreachable', ms: number) => void;
}

export interface JobStatus {
  id: string;
  name: string;
  phase: SlurmPhase;
  /** Known once the job ended and the accounting (or completion file) has it. */
  exitCode: number | null;
  signal: number | null;
}

export class SlurmClient {
  private readonly env: NodeJS.ProcessEnv;
  private readonly exec: Exec;
  private readonly timeoutMs: number;
  private readonly policy: BackoffPolicy;
  private failures = 0;
  /** Learned on the first refusal: the cluster has no slurmdbd, use the completion file. */
  private sacctFromJobcomp = false;

  constructor(private readonly o: SlurmClientOptions = {}) {
    const base = o.env ?? processEnv;
    this.env = o.slurmConf ? { ...base, SLURM_CONF: o.slurmConf } : base;
    this.exec = o.exec ?? execCommand;
    this.timeoutMs = o.timeoutMs ?? 60_000;
    this.policy = o.retryPolicy ?? BACKOFF_PRESETS.STANDARD;
  }

  /** Consecutive commands the controller did not answer (0 once one got through). */
  get unreachableStreak(): number {
    return this.failures;
  }

  private async run(cmd: SlurmCommand, args: string[], env = this.env): Promise<ExecResult> {
    const t0 = Date.now();
    const r = await this.exec(cmd, args, env, this.timeoutMs);
    const ok = r.code === 0;
    const down = !ok && !r.spawnError && UNREACHABLE.test(r.stderr);
    this.o.onCall?.(cmd, ok ? 'ok' : down ? 'unreachable' : 'error', Date.now() - t0);
    if (r.spawnError) throw new SlurmRejectedError(`cannot run ${cmd}: ${r.spawnError}`, { command: cmd });
    if (down) {
      this.failures++;
      throw new SlurmUnreachableError(`${cmd}: Slurm controller unreachable: ${lastLine(r.stderr)}`, {
        command: cmd,
        failures: this.failures,
        retryInMs: backoffMs(this.policy, this.failures),
      });
    }
    this.failures = 0;
    return r;
  }

  /**
   * Submit the batch script; returns the job id. `env` is the job's environment (sbatch exports it to the
   * job). Throws SlurmUnreachableError when the controller did not answer: the job may or may not exist then,
   * so the caller looks it up by name before it ever submits again.
   */
  async submit(opts: SbatchOptions, job: SbatchJob, env: NodeJS.ProcessEnv): Promise<string> {
    const jobEnv = this.o.slurmConf ? { ...env, SLURM_CONF: this.o.slurmConf } : env;
    const r = await this.run('sbatch', sbatchArgv(opts, job), jobEnv);
    if (r.code !== 0)
      throw new SlurmRejectedError(`sbatch refused the job: ${lastLine(r.stderr) || `exit ${r.code}`}`, {
        command: 'sbatch',
      });
    // --parsable: "ID" or "ID;cluster".
    const id = r.stdout.trim().split(';')[0];
    if (!/^\d+$/.test(id))
      throw new SlurmRejectedError(`sbatch printed no job id: ${JSON.stringify(r.stdout.trim())}`);
    return id;
  }

  /** The job's state from the controller (squeue), or null when the controller no longer knows the job. */
  async queued(id: string): Promise<JobStatus | null> {
    const r = await this.run('squeue', ['--noheader', '--states=all', `--jobs=${id}`, '--format=%i|%j|%T']);
    if (r.code !== 0) {
      if (UNKNOWN_JOB.test(r.stderr)) return null;
      throw new SlurmRejectedError(`squeue failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
    }
    return parseRows(r.stdout, 3).find((row) => row.id === id) ?? null;
  }

  /** The finished job's record from accounting (sacct; `sacct -c` without slurmdbd), or null. */
  async accounted(id: string): Promise<JobStatus | null> {
    return (await this.sacct([`--jobs=${id}`])).find((row) => row.id === id) ?? null;
  }

  /**
   * Jobs with this exact name, the controller's first, then accounting's: how a submission whose reply was
   * lost (or whose id never reached the database) is found again.
   */
  async byName(name: string): Promise<JobStatus[]> {
    const r = await this.run('squeue', ['--noheader', '--states=all', `--name=${name}`, '--format=%i|%j|%T']);
    if (r.code !== 0)
      throw new SlurmRejectedError(`squeue failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
    const live = parseRows(r.stdout, 3).filter((j) => j.name === name);
    const done = (await this.sacct([`--name=${name}`, '--starttime=now-30days'])).filter(
      (j) => j.name === name,
    );
    const ids = new Set(live.map((j) => j.id));
    return [...live, ...done.filter((j) => !ids.has(j.id))];
  }

  /** The job's state: the controller's while it knows the job, with the exit code from accounting once ended. */
  async status(id: string): Promise<JobStatus | null> {
    const q = await this.queued(id);
    if (q && q.phase.phase !== 'ended') return q;
    const acct = await this.accounted(id);
    // The completion record carries the exit code; the controller's state word is the better one (the file
    // reader drops signals).
    if (acct) return q ? { ...acct, phase: q.phase } : acct;
    return q;
  }

  /** Cancel the job (idempotent: a finished or unknown job is no error). */
  async cancel(id: string): Promise<void> {
    const r = await this.run('scancel', [id]);
    if (r.code !== 0 && !UNKNOWN_JOB.test(r.stderr))
      throw new SlurmRejectedError(`scancel failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
  }

  private async sacct(filter: string[]): Promise<JobStatus[]> {
    const args = [
      ...filter,
      '--allocations',
      '--parsable2',
      '--noheader',
      '--format=JobID,JobName,State,ExitCode',
    ];
    if (!this.sacctFromJobcomp) {
      const r = await this.run('sacct', args);
      if (r.code === 0) return parseRows(r.stdout, 4);
      if (!NO_ACCOUNTING.test(r.stderr)) throw new SlurmRejectedError(`sacct failed: ${lastLine(r.stderr)}`);
      this.sacctFromJobcomp = true;
    }
    const r = await this.run('sacct', ['--completion', ...args]);
    if (r.code !== 0)
      throw new SlurmRejectedError(`sacct -c failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
    return parseRows(r.stdout, 4);
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').slice(-1)[0] ?? '';
}

/** `ID|NAME|STATE[|EXIT]` lines; names cannot contain `|` (ours never do), rows that do not parse are skipped. */
export function parseRows(stdout: string, fields: 3 | 4): JobStatus[] {
  const out: JobStatus[] = [];
  for (const line of stdout.split('\n')) {
    const parts = line.split('|');
    if (parts.length !== fields || !/^\d+$/.test(parts[0]) || !parts[2]) continue;
    const exit = fields === 4 ? parseExitCode(parts[3]) : { exitCode: null, signal: null };
    out.push({ id: parts[0], name: parts[1], phase: slurmPhase(parts[2]), ...exit });
  }
  return out;
}
