// sbatch's command line for one job, and the check of the extra options an operator may add
// (`executor.sbatchArgs`). Options are arguments of execFile, never shell words, and each extra one must be a
// long option (`--name` or `--name=value`: a short option's value would be the next argument, which the
// check cannot see) that is not one the executor sets itself or one that breaks tracking a job by its id.

/** Options the executor sets (their own config keys) or that would break tracking, refused in sbatchArgs. */
export const RESERVED_SBATCH_OPTIONS: Readonly<Record<string, string>> = {
  parsable: 'set by the executor',
  'job-name': 'set by the executor (it carries the group id)',
  output: 'set by the executor (the attempt directory)',
  error: 'set by the executor (the attempt directory)',
  chdir: 'set by the executor (the attempt directory)',
  partition: 'use executor.partition',
  account: 'use executor.account',
  qos: 'use executor.qos',
  'cpus-per-task': 'use executor.cpusPerTask',
  mem: 'use executor.memGb',
  time: 'use executor.timeLimit',
  wrap: 'the executor submits its own batch script',
  array: 'one conversion is one job',
  wait: 'the executor tracks the job itself',
  'test-only': 'nothing would run',
  hold: 'the job would never start',
  export: 'the converter environment comes from converter.env',
  'export-file': 'the converter environment comes from converter.env',
  input: 'the converter reads no stdin',
  uid: 'jobs run as the daemon user',
  gid: 'jobs run as the daemon user',
};

const LONG_OPTION = /^--([a-z][a-z0-9-]*)(=[^\n\r\0]*)?$/;

/** Messages for the entries of `args` that are not allowed (empty when all are), with their index. */
export function sbatchArgIssues(args: readonly string[]): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  for (const [index, a] of args.entries()) {
    const m = LONG_OPTION.exec(a);
    if (!m) {
      out.push({
        index,
        message: `expected --option or --option=value (no short options, no newlines): ${JSON.stringify(a)}`,
      });
      continue;
    }
    const why = RESERVED_SBATCH_OPTIONS[m[1]];
    if (why) out.push({ index, message: `--${m[1]} is not allowed here: ${why}` });
  }
  return out;
}

export interface SbatchOptions {
  partition: string;
  account?: string;
  qos?: string;
  cpusPerTask?: number;
  memGb?: number;
  /** Slurm's time format: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM:SS. */
  timeLimit?: string;
  sbatchArgs?: readonly string[];
}

export interface SbatchJob {
  /** Job name (the caller puts the group id and the attempt's key in it; no spaces: sacct's file reader splits on them). */
  name: string;
  /** Working directory; the output and error files are written there. */
  dir: string;
  /** The batch script's path. */
  script: string;
  stdoutFile: string;
  stderrFile: string;
}

/** Slurm expands `%` patterns and `\` escapes in output names: the names must be plain. */
function plainName(what: string, name: string): string {
  if (/[%\\/\n]/.test(name))
    throw new TypeError(`${what} must be a plain file name: ${JSON.stringify(name)}`);
  return name;
}

/** The arguments of `sbatch` for one job, the script last. */
export function sbatchArgv(o: SbatchOptions, job: SbatchJob): string[] {
  if (/\s/.test(job.name))
    throw new TypeError(`a Slurm job name cannot contain whitespace: ${JSON.stringify(job.name)}`);
  const argv = [
    '--parsable',
    `--job-name=${job.name}`,
    `--chdir=${job.dir}`,
    // Relative to --chdir: the attempt directory may contain characters Slurm would expand in a path.
    `--output=${plainName('stdoutFile', job.stdoutFile)}`,
    `--error=${plainName('stderrFile', job.stderrFile)}`,
    `--partition=${o.partition}`,
  ];
  if (o.account) argv.push(`--account=${o.account}`);
  if (o.qos) argv.push(`--qos=${o.qos}`);
  if (o.cpusPerTask !== undefined) argv.push(`--cpus-per-task=${o.cpusPerTask}`);
  if (o.memGb !== undefined) argv.push(`--mem=${Math.ceil(o.memGb * 1024)}M`);
  if (o.timeLimit) argv.push(`--time=${o.timeLimit}`);
  const extra = o.sbatchArgs ?? [];
  const issues = sbatchArgIssues(extra);
  if (issues.length) throw new TypeError(`sbatchArgs[${issues[0].index}]: ${issues[0].message}`);
  argv.push(...extra, job.script);
  return argv;
}

/** Minutes as Slurm's time limit (whole minutes, rounded up: Slurm enforces minutes). */
export function minutesLimit(seconds: number): string {
  return String(Math.max(1, Math.ceil(seconds / 60)));
}
