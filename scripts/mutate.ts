// Mutation testing of the critical modules with StrykerJS, one module at a time, each with only the test
// files that exercise it, so a run takes minutes on a shared 2-core machine. Run by hand, never in npm test:
//
//   npm run mutate                               every module, one after another
//   npm run mutate -- queue alerts               the named modules
//   npm run mutate -- --mutate lib/queue/store.ts   a file, or file:from-to lines (comma-separated), with its
//                                                module's tests
//   npm run mutate -- --list                     the modules, their files and test files
//   npm run mutate -- queue --concurrency 2      Stryker options: --concurrency, --incremental, --force,
//                                                --logLevel, --timeoutMS, --no-checker, --ignoreStatic
//   npm run mutate -- queue --sql-only           only the SQL mutants (scripts/sql-mutants.ts); --no-sql skips them
//
// Prints, per module: mutants, killed (incl. timeouts), survived, no coverage, equivalent (mutants disabled in
// the source with a `// Stryker disable … : reason` comment), invalid (rejected by the type checker), the
// score = killed / (killed + survived + no coverage), and the SQL mutants killed. Reports:
// reports/mutation/<module>.{json,html}. See docs/testing.md.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stryker } from '@stryker-mutator/core';
import type { MutantResult, PartialStrykerOptions } from '@stryker-mutator/api/core';
import { runSqlMutants, SQL_MUTANTS, vitestPasses } from './sql-mutants.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Module {
  name: string;
  /** Files to mutate (repository-relative). */
  mutate: string[];
  /** Test files: exact paths or `dir/*.test.ts` patterns. */
  tests: string[];
  /** Test files left out of the run, and why. */
  skip?: Record<string, string>;
}

/**
 * The converter tests that reach recovery: every daemon start runs it, so the whole converter suite covers its
 * loop, and a survivor there would run all of it (hours on 2 shared cores); its own file sets up what recovery
 * acts on (open attempts, orphans, a live peer). Even so a run takes 20–40 minutes: run it with --ignoreStatic
 * (the UNSEEN constant's mutants would each run the whole file again).
 */
// lease.test.ts drives recovery's other entry: a job lease that expires while the daemon runs.
const RECOVERY_TESTS = [
  'test/integration/converter/recovery.test.ts',
  'test/integration/converter/lease.test.ts',
  'test/integration/converter/recovery-expiry.test.ts',
  'test/unit/converter/local-executor.test.ts',
  // Startup recovery's adoption refused because the job was claimed elsewhere while it waited for the lock:
  // the executor must then stop the converter, not report it adopted.
  'test/integration/converter/dispatch-adopt-lock.test.ts',
];

/**
 * The converter tests that pin dispatch: every daemon start runs the dispatcher, so the whole converter suite
 * covers nearly all of dispatch.ts, and each survivor would run all of it (hours per run on 2 shared cores).
 * dispatch.test.ts drives the claim's guards (maxConcurrent, the lease re-check, stale and duplicate jobs, an
 * open attempt, heartbeats); the dispatch-*.test.ts files pin the rest (the attempt and dispatch records, the
 * claim gate and the settle hook, adoption and settling of found attempts, the drain). ~3 minutes per run of
 * all of them, so a survivor costs that; a whole-file run takes 1–2 hours on 2 shared cores.
 */
const DISPATCH_TESTS = ['test/integration/converter/dispatch*.test.ts'];

export const MODULES: Module[] = [
  {
    // Recovery's local adoption (stop or adopt what runs, settle from the attempt directory) is the local
    // executor's adopt since the executor seam.
    name: 'converter-recovery',
    mutate: ['daemons/streaming-converter/recovery.ts', 'daemons/streaming-converter/local-executor.ts'],
    tests: RECOVERY_TESTS,
  },
  {
    // The supervisor runs in a child process of the daemon, where Stryker's mutants are never active (they
    // are switched on in the test runner's process): it is tested by hand-made mutants only
    // (scripts/sql-mutants.ts), each run against these tests in a copy of the repository. supervise.test.ts
    // drives the supervisor itself on small shell commands (signals, exit status, leftovers, logs).
    name: 'converter-supervisor',
    mutate: [],
    tests: [
      'test/integration/exec/supervise.test.ts',
      'test/integration/converter/recovery.test.ts',
      'test/integration/converter/groups.test.ts',
    ],
  },
  { name: 'converter-dispatch', mutate: ['daemons/streaming-converter/dispatch.ts'], tests: DISPATCH_TESTS },
  {
    name: 'queue',
    // The store and the worker, and the files they were split into: the operations on claimed jobs (ops.ts),
    // settling an attempt (settle.ts), the claim round (claim-round.ts), the worker's options and summary
    // (worker-options.ts) and one job's run (job-run.ts).
    mutate: [
      'lib/queue/store.ts',
      'lib/queue/sql.ts',
      'lib/queue/ops.ts',
      'lib/queue/settle.ts',
      'lib/queue/claim-round.ts',
      'lib/queue/worker.ts',
      'lib/queue/worker-options.ts',
      'lib/queue/job-run.ts',
    ],
    tests: ['test/unit/queue/*.test.ts', 'test/integration/queue/*.test.ts'],
    skip: {
      'test/integration/queue/contention.test.ts':
        '5,000 jobs through four forked workers (minutes per mutant); the forks run unmutated code',
    },
  },
  { name: 'alerts', mutate: ['lib/alerts/index.ts'], tests: ['test/unit/alerts/*.test.ts'] },
  { name: 'leases', mutate: ['lib/leases/index.ts'], tests: ['test/integration/leases/*.test.ts'] },
  {
    name: 'fits-stats',
    mutate: ['lib/fits/stats.ts', 'lib/fits/zscale.ts', 'lib/fits/plane-stats.ts'],
    // The statistics' and zscale's own tests, and the astropy oracle on the real files. Not the rendering
    // tests (render, header, corrupt, look, …): they reach zscale only through whole images, seconds per
    // mutant; nor stats-large.test.ts (the 4096² simulated image, in `npm test`).
    tests: [
      'test/unit/fits/stats.test.ts',
      'test/unit/fits/sample-buffer.test.ts',
      'test/unit/fits/plane-stats.test.ts',
      'test/unit/fits/intervals.test.ts',
      'test/unit/fits/oracle.test.ts',
      'test/unit/fits/bitpix.test.ts',
      'test/unit/fits/big-endian-stats.test.ts',
    ],
  },
  {
    name: 'fits-fused',
    // The render's statistics path: the mean loops with the moments in them (decoded pixels and raw big-endian
    // bytes) and the median by histogram and selection. Their tests compare every number with a separate
    // pass, a full sort or the decoded path, bit for bit.
    mutate: ['lib/fits/mean-moments.ts', 'lib/fits/sorted.ts'],
    tests: [
      'test/unit/fits/fused-stats.test.ts',
      // the minimum and maximum at every offset of every loop, ties of signed zeros
      'test/unit/fits/fused-extremes.test.ts',
      'test/unit/fits/big-endian-stats.test.ts',
      'test/unit/fits/sample-buffer.test.ts',
      'test/unit/fits/stats.test.ts',
      'test/unit/fits/downsample.test.ts',
      // sorted.ts's percentile (the display intervals).
      'test/unit/fits/intervals.test.ts',
    ],
  },
  { name: 'astro-transit', mutate: ['lib/astro/transit.ts'], tests: ['test/unit/astro/*.test.ts'] },
  {
    name: 'db',
    mutate: ['lib/db/db.ts', 'lib/db/write-lock.ts'],
    tests: [
      'test/integration/db/*.test.ts',
      'test/unit/platform/db-nesting.test.ts',
      // write-lock.ts's pause between tries
      'test/unit/platform/lock-poll.test.ts',
      // checkpoints, WAL size and their metrics
      'test/integration/daemon/wal-guard.test.ts',
    ],
  },
  {
    name: 'dispatcher-routing',
    mutate: [
      'lib/matchers/index.ts',
      'daemons/alert-dispatcher/routing.ts',
      'daemons/alert-dispatcher/flush.ts',
      'daemons/alert-dispatcher/digest.ts',
      'daemons/alert-dispatcher/plan.ts',
    ],
    tests: ['test/unit/alert-dispatcher/*.test.ts'],
  },
  {
    // The durable outbox (notifications rows beside their `alerts:<receiver>` jobs): its own tests on a real
    // state database (outbox*.test.ts), and the fast in-process dispatcher test that drives it through
    // delivery, a retry and a notification queued by another connection (timing). Not webhook.test.ts: its
    // 400 ms request timeout fails under the load of a mutation run on the shared machine.
    name: 'dispatcher-outbox',
    mutate: ['daemons/alert-dispatcher/outbox.ts'],
    tests: ['test/unit/alert-dispatcher/outbox*.test.ts', 'test/integration/alert-dispatcher/timing.test.ts'],
  },
  { name: 'cron', mutate: ['lib/cron.ts'], tests: ['test/unit/scheduler/cron.test.ts'] },
];

/** Tests that drive the built daemons or CLI in dist/: they run compiled JavaScript, which has no mutants. */
const RUNS_BUILT_CODE = /spawnDaemon\(|helpers\/cli\.js|['"`]dist\//;

function expand(pattern: string): string[] {
  if (!pattern.includes('*')) return fs.existsSync(path.join(ROOT, pattern)) ? [pattern] : [];
  const dir = path.dirname(pattern);
  const re = new RegExp(`^${path.basename(pattern).replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`);
  if (!fs.existsSync(path.join(ROOT, dir))) return [];
  return fs
    .readdirSync(path.join(ROOT, dir))
    .filter((f) => re.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);
}

export function testFilesOf(m: Module): { run: string[]; skipped: [string, string][] } {
  const run: string[] = [];
  const skipped: [string, string][] = [];
  for (const file of [...new Set(m.tests.flatMap(expand))]) {
    const why =
      m.skip?.[file] ??
      (RUNS_BUILT_CODE.test(fs.readFileSync(path.join(ROOT, file), 'utf8'))
        ? 'runs the built code in dist/ (no mutants there)'
        : undefined);
    if (why) skipped.push([file, why]);
    else run.push(file);
  }
  return { run, skipped };
}

export interface Score {
  module: string;
  mutants: number;
  killed: number;
  survived: number;
  noCoverage: number;
  equivalent: number;
  invalid: number;
  /** killed / (killed + survived + noCoverage), in %. */
  score: number;
  /** SQL mutants (scripts/sql-mutants.ts) killed and run; absent when none ran. */
  sql?: { killed: number; total: number };
}

export function scoreOf(module: string, results: readonly Pick<MutantResult, 'status'>[]): Score {
  const n = (...states: string[]): number => results.filter((r) => states.includes(r.status)).length;
  const killed = n('Killed', 'Timeout');
  const survived = n('Survived');
  const noCoverage = n('NoCoverage');
  const valid = killed + survived + noCoverage;
  return {
    module,
    mutants: results.length,
    killed,
    survived,
    noCoverage,
    equivalent: n('Ignored'),
    invalid: n('CompileError', 'RuntimeError'),
    score: valid === 0 ? 100 : (100 * killed) / valid,
  };
}

function describeMutant(r: MutantResult): string {
  const { line, column } = r.location.start;
  const replacement = (r.replacement ?? '').replace(/\s+/g, ' ').slice(0, 90);
  return `  ${r.status.padEnd(10)} ${r.fileName}:${line}:${column} ${r.mutatorName}: ${replacement}`;
}

function table(scores: Score[]): string {
  const head = ['module', 'mutants', 'killed', 'survived', 'no cov', 'equivalent', 'invalid', 'score', 'SQL'];
  const rows = scores.map((s) => [
    s.module,
    ...(s.mutants
      ? [s.mutants, s.killed, s.survived, s.noCoverage, s.equivalent, s.invalid].map(String)
      : []),
    ...(s.mutants ? [`${s.score.toFixed(1)} %`] : Array<string>(7).fill('-')),
    s.sql ? `${s.sql.killed}/${s.sql.total}` : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

interface Args {
  names: string[];
  mutate?: string;
  list: boolean;
  sql: 'also' | 'only' | 'skip';
  passthrough: string[];
}

function parseArgs(argv: string[]): Args {
  const names: string[] = [];
  const passthrough: string[] = [];
  let mutate: string | undefined;
  let list = false;
  let sql: Args['sql'] = 'also';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--list') list = true;
    else if (a === '--sql-only') sql = 'only';
    else if (a === '--no-sql') sql = 'skip';
    else if (a === '--mutate' || a === '-m') mutate = argv[++i];
    else if (a.startsWith('--mutate=')) mutate = a.slice('--mutate='.length);
    else if (a.startsWith('-')) {
      passthrough.push(a);
      if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('-') && !a.includes('='))
        passthrough.push(argv[++i]);
    } else names.push(a);
  }
  return { names, mutate, list, sql, passthrough };
}

/** Stryker's own option parser is not exported; accept the few options worth changing per run. */
function strykerOverrides(passthrough: string[]): PartialStrykerOptions {
  const out: PartialStrykerOptions = {};
  for (let i = 0; i < passthrough.length; i++) {
    const [flag, inline] = passthrough[i].split('=', 2);
    const value = (): string => inline ?? passthrough[++i];
    if (flag === '--concurrency' || flag === '-c') out.concurrency = Number(value());
    else if (flag === '--incremental') out.incremental = true;
    else if (flag === '--force') out.force = true;
    else if (flag === '--logLevel') out.logLevel = value() as PartialStrykerOptions['logLevel'];
    else if (flag === '--timeoutMS') out.timeoutMS = Number(value());
    else if (flag === '--no-checker') out.checkers = [];
    else if (flag === '--ignoreStatic') out.ignoreStatic = true;
    else throw new Error(`unknown option ${passthrough[i]} (see scripts/mutate.ts)`);
  }
  return out;
}

async function runStryker(
  m: Module,
  mutate: string[],
  tests: string[],
  overrides: PartialStrykerOptions,
): Promise<Score> {
  console.log(`[${m.name}] mutating ${mutate.join(', ')} against ${tests.length} test files`);
  // Stryker reads stryker.config.json itself and merges these on top. The test files go to vitest through
  // scripts/vitest.mutate.config.ts (see there why not through Stryker's testFiles option).
  process.env.CONTIMG_MUTATE_TESTS = JSON.stringify(tests);
  const results = await new Stryker({
    mutate,
    vitest: { configFile: 'scripts/vitest.mutate.config.ts', related: false },
    jsonReporter: { fileName: `reports/mutation/${m.name}.json` },
    htmlReporter: { fileName: `reports/mutation/${m.name}.html` },
    incrementalFile: `reports/mutation/${m.name}.incremental.json`,
    ...overrides,
  }).runMutationTest();
  const left = results.filter((r) => r.status === 'Survived' || r.status === 'NoCoverage');
  if (left.length) console.log(`[${m.name}] mutants left alive:\n${left.map(describeMutant).join('\n')}`);
  return scoreOf(m.name, results);
}

/** A copy of the repository's files (tracked and new, not ignored) with node_modules linked in. */
function makeSandbox(name: string): string {
  const dir = path.join(ROOT, '.stryker-tmp', `sql-${name}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && fs.existsSync(path.join(ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

async function runSql(m: Module, tests: string[]): Promise<{ killed: number; total: number } | undefined> {
  const mutants = SQL_MUTANTS[m.name];
  if (!mutants?.length) return undefined;
  console.log(`[${m.name}] ${mutants.length} SQL mutants against ${tests.length} test files`);
  const sandbox = makeSandbox(m.name);
  try {
    if (!(await vitestPasses(sandbox, tests, process.env)))
      throw new Error(`[${m.name}] the tests fail without any mutant; fix them first`);
    const outcomes = await runSqlMutants(sandbox, mutants, tests, process.env);
    return { killed: outcomes.filter((o) => o.killed).length, total: outcomes.length };
  } finally {
    fs.rmSync(sandbox, { recursive: true, force: true });
  }
}

async function runModule(
  m: Module,
  mutate: string[],
  args: Args,
  overrides: PartialStrykerOptions,
): Promise<Score> {
  const { run, skipped } = testFilesOf(m);
  for (const [file, why] of skipped) console.log(`[${m.name}] leaving out ${file}: ${why}`);
  if (run.length === 0) throw new Error(`module ${m.name} has no test files to run`);
  const score =
    args.sql === 'only' || m.mutate.length === 0
      ? { ...scoreOf(m.name, []), mutants: 0 }
      : await runStryker(m, mutate, run, overrides);
  // SQL mutants belong to whole modules: not run when --mutate narrows the run to a file or lines.
  if (args.sql !== 'skip' && !args.mutate) score.sql = await runSql(m, run);
  console.log(`\n${table([score])}\n`);
  return score;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const m of MODULES) {
      const { run, skipped } = testFilesOf(m);
      console.log(`${m.name}\n  mutate: ${m.mutate.join(' ')}\n  tests:  ${run.join(' ')}`);
      for (const [file, why] of skipped) console.log(`  left out: ${file} (${why})`);
    }
    return;
  }
  const unknown = args.names.filter((n) => !MODULES.some((m) => m.name === n));
  if (unknown.length)
    throw new Error(`unknown module ${unknown.join(', ')}; one of ${MODULES.map((m) => m.name).join(', ')}`);
  let plan: { m: Module; mutate: string[] }[];
  if (args.mutate) {
    // One or more files or line ranges (comma-separated, as Stryker takes them) of one module.
    const targets = args.mutate.split(',');
    const files = targets.map((t) => t.replace(/:\d+(:\d+)?-\d+(:\d+)?$/, ''));
    const owner = MODULES.find((m) => files.every((f) => m.mutate.includes(f)));
    if (!owner) throw new Error(`${files.join(', ')}: not all in one module (npm run mutate -- --list)`);
    plan = [{ m: owner, mutate: targets }];
  } else {
    const chosen = args.names.length ? args.names.map((n) => MODULES.find((m) => m.name === n)!) : MODULES;
    plan = chosen.map((m) => ({ m, mutate: m.mutate }));
  }
  // Stryker copies the repository into .stryker-tmp/: tell the tests where ../shared/data really is.
  process.env.CONTIMG_SHARED_DATA ??= path.resolve(ROOT, '..', 'shared', 'data');
  const overrides = strykerOverrides(args.passthrough);
  const scores: Score[] = [];
  for (const { m, mutate } of plan) scores.push(await runModule(m, mutate, args, overrides));
  console.log(`Mutation scores (${new Date().toISOString().slice(0, 10)}):\n${table(scores)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
