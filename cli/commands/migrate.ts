// contimg migrate status|up|down|verify|new|snapshot (docs/migrations.md). Exit codes: 0 ok, 1 failure,
// 2 usage, 3 drift (checksum or snapshot), 4 lock busy, 78 config.
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type * as MigrationsLib from '../../lib/migrations/index.js';
import { printJson, requireConfig, UsageError } from '../util.js';

interface CommonOpts {
  db?: string;
  path?: string;
  config?: string;
  dir?: string;
  json?: boolean;
}

type MigrationsModule = typeof MigrationsLib;
type SetName = 'state' | 'pipeline';

interface Target {
  set: SetName;
  path: string;
  backupDir?: string;
}

const loadLib = (): Promise<MigrationsModule> => import('../../lib/migrations/index.js');

function parseSet(db: string | undefined): SetName | undefined {
  if (db === undefined) return undefined;
  if (db !== 'state' && db !== 'pipeline')
    throw new UsageError(`--db must be state or pipeline, not "${db}"`);
  return db;
}

function parseVersion(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} expects a non-negative integer, not "${text}"`);
  return Number(text);
}

/** Which databases a command acts on: --db, else both when allowed; paths from --path or the config. */
function targets(opts: CommonOpts, bothByDefault: boolean): Target[] {
  const one = parseSet(opts.db);
  if (!one && !bothByDefault)
    throw new UsageError('this command acts on one database: pass --db state or --db pipeline');
  if (opts.path && !one)
    throw new UsageError('--path needs --db to say which migration set the file follows');
  const sets: SetName[] = one ? [one] : ['state', 'pipeline'];
  if (opts.path) return [{ set: sets[0], path: path.resolve(opts.path) }];
  const cfg = requireConfig(opts.config);
  return sets.map((set) => ({ set, path: cfg.databases[set], backupDir: path.join(cfg.dataDir, 'backups') }));
}

function withCommon(cmd: Command): Command {
  return cmd
    .option('--db <set>', 'state or pipeline')
    .option('--path <file>', 'database file (instead of the config)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--dir <dir>', 'migrations folder holding state/ and pipeline/ (default: the installed one)')
    .option('--json', 'print JSON');
}

function out(opts: CommonOpts, json: unknown, text: string): void {
  if (opts.json) printJson(json);
  else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

const v4 = (n: number): string => String(n).padStart(4, '0');

async function statusAction(opts: CommonOpts): Promise<void> {
  const lib = await loadLib();
  const reports = targets(opts, true).map((t) => lib.status({ path: t.path, set: t.set, dir: opts.dir }));
  const text = reports
    .map((r) => {
      const lines = [
        `${r.set}: ${r.path}: version ${r.version} of ${r.head} (user_version ${r.userVersion})`,
      ];
      for (const a of r.applied)
        lines.push(
          `  ${v4(a.version)}_${a.name}  applied ${new Date(a.appliedAt).toISOString()}  ${a.checksum}`,
        );
      for (const p of r.pending) lines.push(`  ${v4(p.version)}_${p.name}  pending`);
      return lines.join('\n');
    })
    .join('\n');
  out(opts, reports, text);
  if (reports.some((r) => r.drift)) process.exitCode = 3;
}

async function upAction(
  opts: CommonOpts & { to?: string; backup?: boolean; dryRun?: boolean; lockWaitMs?: string },
): Promise<void> {
  const lib = await loadLib();
  const to = parseVersion(opts.to, '--to');
  const lockWaitMs = parseVersion(opts.lockWaitMs, '--lock-wait-ms');
  const list = targets(opts, true);
  if (to !== undefined && list.length > 1) throw new UsageError('--to needs --db');
  const results = [];
  for (const t of list) {
    const r = await lib.migrateUp({
      path: t.path,
      set: t.set,
      to,
      dir: opts.dir,
      backup: opts.backup,
      backupDir: t.backupDir,
      dryRun: opts.dryRun,
      appliedBy: `${os.userInfo().username}@${os.hostname()}:${process.pid}`,
      lockWaitMs,
    });
    results.push(r);
    if (!opts.json) {
      const verb = r.dryRun ? 'would apply' : 'applied';
      const steps = r.applied.map((s) => `${v4(s.version)}_${s.name}`).join(', ');
      process.stdout.write(
        `${r.set}: ${r.applied.length === 0 ? `up to date at ${r.from}` : `${verb} ${steps} (${r.from} → ${r.to})`}${r.backup ? `; backup ${r.backup}` : ''}\n`,
      );
    }
  }
  if (opts.json) printJson(results);
}

async function confirm(question: string): Promise<boolean> {
  const readline = await import('node:readline/promises');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function downAction(
  opts: CommonOpts & { to?: string; steps?: string; yes?: boolean; lockWaitMs?: string },
): Promise<void> {
  const lib = await loadLib();
  if (opts.to !== undefined && opts.steps !== undefined)
    throw new UsageError('pass --to or --steps, not both');
  const [t] = targets(opts, false);
  let to = parseVersion(opts.to, '--to');
  const steps = parseVersion(opts.steps, '--steps');
  if (steps !== undefined)
    to = Math.max(0, lib.status({ path: t.path, set: t.set, dir: opts.dir }).version - steps);
  if (!opts.yes) {
    if (!process.stdin.isTTY)
      throw new UsageError('down drops schema and data: pass --yes when not running in a terminal');
    if (!(await confirm(`revert ${t.set} (${t.path}) to version ${to ?? 'current − 1'}?`)))
      throw new UsageError('aborted');
  }
  const r = await lib.migrateDown({
    path: t.path,
    set: t.set,
    to,
    appliedBy: `${os.userInfo().username}@${os.hostname()}:${process.pid}`,
    dir: opts.dir,
    lockWaitMs: parseVersion(opts.lockWaitMs, '--lock-wait-ms'),
  });
  const list = r.reverted.map((s) => `${v4(s.version)}_${s.name}`).join(', ');
  out(
    opts,
    r,
    `${r.set}: ${r.reverted.length === 0 ? `nothing to revert at ${r.from}` : `reverted ${list} (${r.from} → ${r.to})`}`,
  );
}

async function verifyAction(opts: CommonOpts & { snapshotOnly?: boolean }): Promise<void> {
  const lib = await loadLib();
  if (opts.snapshotOnly) {
    if (opts.path) throw new UsageError('--snapshot-only uses no database: drop --path');
    const sets: SetName[] = opts.db ? [parseSet(opts.db)!] : ['state', 'pipeline'];
    const results = [];
    for (const set of sets) results.push(await lib.checkSnapshotDrift(set, opts.dir));
    const text = results
      .map((r) =>
        r.drift
          ? [
              `${r.set}: schema.snapshot.sql is out of date (run contimg migrate snapshot --db ${r.set})`,
              ...r.missing.map((l) => `  - ${l}`),
              ...r.unexpected.map((l) => `  + ${l}`),
            ].join('\n')
          : `${r.set}: snapshot ok`,
      )
      .join('\n');
    out(opts, results, text);
    if (results.some((r) => r.drift)) process.exitCode = 3;
    return;
  }
  const reports = targets(opts, true).map((t) => lib.verify({ path: t.path, set: t.set, dir: opts.dir }));
  const text = reports
    .map((r) =>
      r.ok ? `${r.set}: ok` : [`${r.set}: ${r.path}`, ...r.problems.map((p) => `  ${p}`)].join('\n'),
    )
    .join('\n');
  out(opts, reports, text);
  const codes = reports.map((r) => r.exitCode);
  process.exitCode = codes.includes(3) ? 3 : codes.includes(1) ? 1 : 0;
}

async function newAction(slug: string, opts: CommonOpts): Promise<void> {
  const lib = await loadLib();
  const set = parseSet(opts.db);
  if (!set) throw new UsageError('new needs --db state or --db pipeline');
  const r = lib.newMigration(set, slug, opts.dir);
  out(opts, r, `created ${r.up}\ncreated ${r.down}`);
}

async function snapshotAction(opts: CommonOpts): Promise<void> {
  const lib = await loadLib();
  const sets: SetName[] = opts.db ? [parseSet(opts.db)!] : ['state', 'pipeline'];
  const results = [];
  for (const set of sets) results.push({ set, ...(await lib.writeSnapshot(set, opts.dir)) });
  out(
    opts,
    results,
    results.map((r) => `${r.set}: ${r.file} ${r.changed ? 'updated' : 'unchanged'}`).join('\n'),
  );
}

export function register(program: Command): void {
  const migrate = program
    .command('migrate')
    .description('database migrations: status, up, down, verify, new, snapshot');
  withCommon(
    migrate
      .command('status')
      .description('applied and pending migrations; exit 3 if an applied file changed'),
  ).action(statusAction);
  withCommon(migrate.command('up').description('apply pending migrations (both databases unless --db)'))
    .option('--to <n>', 'stop at this version')
    .option('--dry-run', 'list what would be applied')
    .option('--no-backup', 'skip the online backup taken before the first step')
    .option('--lock-wait-ms <ms>', 'how long to wait for another runner (default 60000); then exit 4')
    .action(upAction);
  withCommon(migrate.command('down').description('revert migrations of one database (default one step)'))
    .option('--to <n>', 'revert down to this version (0 = empty)')
    .option('--steps <k>', 'revert this many steps')
    .option('--yes', 'do not ask (required when not in a terminal)')
    .option('--lock-wait-ms <ms>', 'how long to wait for another runner (default 60000); then exit 4')
    .action(downAction);
  withCommon(
    migrate
      .command('verify')
      .description('checksums, integrity, foreign keys and the schema snapshot; exit 3 on drift'),
  )
    .option(
      '--snapshot-only',
      'no database: migrate a temp DB from the files and compare with the committed snapshot',
    )
    .action(verifyAction);
  withCommon(
    migrate
      .command('new')
      .argument('<slug>', 'short name, [a-z0-9_]+')
      .description('create the next numbered up/down pair'),
  ).action(newAction);
  withCommon(
    migrate.command('snapshot').description('regenerate migrations/<set>/schema.snapshot.sql from the files'),
  ).action(snapshotAction);
}
