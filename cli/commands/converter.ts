// contimg converter groups|show|requeue|abandon: the streaming converter's groups, read from and acted on
// in the state database directly (compare-and-set, safe while the daemon runs).
import type { Command } from 'commander';
import type { Db } from '../../lib/db/index.js';
import { limitOption, printJson, requireConfig } from '../util.js';

async function withStateDb<T>(
  configOpt: string | undefined,
  fn: (db: Db, cfg: ReturnType<typeof requireConfig>) => T,
): Promise<T> {
  const cfg = requireConfig(configOpt);
  const { openDb } = await import('../../lib/db/index.js');
  const { assertSchema } = await import('../../lib/migrations/index.js');
  const db = openDb({ name: 'state', path: cfg.databases.state });
  try {
    assertSchema(db, 'state');
    return fn(db, cfg);
  } finally {
    db.close();
  }
}

const admin = () => import('../../daemons/streaming-converter/admin.js');

function line(g: {
  groupId: string;
  state: string;
  nFiles: number;
  expected: number;
  attempts: number;
  outputPath: string | null;
  error: string | null;
}): string {
  const extra = g.outputPath ?? g.error ?? '';
  return `${g.groupId}  ${g.state.padEnd(10)}  ${String(g.nFiles).padStart(2)}/${g.expected}  attempts ${g.attempts}  ${extra}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('converter')
    .description('streaming converter: observation groups and operator actions');
  cmd
    .command('groups')
    .description('list groups, newest first')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option(
      '--state <state>',
      'only groups in this state (collecting, ready, converting, retry_wait, converted, incomplete, failed, abandoned)',
    )
    .option('--limit <n>', 'at most this many', limitOption, 1000)
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; state?: string; limit: number; json?: boolean }) => {
      const { listGroupSummaries } = await admin();
      const groups = await withStateDb(o.config, (db) => listGroupSummaries(db, o.state, o.limit));
      if (o.json) printJson(groups);
      else process.stdout.write(groups.map((g) => `${line(g)}\n`).join('') || 'no groups\n');
    });
  cmd
    .command('show')
    .argument('<group>', 'group id, e.g. 2025-06-01T12:00:00')
    .description('one group with its files and attempts')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (group: string, o: { config?: string; json?: boolean }) => {
      const { showGroup } = await admin();
      const g = await withStateDb(o.config, (db) => showGroup(db, group));
      if (o.json) return printJson(g);
      process.stdout.write(`${line(g)}\n`);
      for (const f of g.files)
        process.stdout.write(
          `  sb${String(f.subband).padStart(2, '0')}  ${f.state.padEnd(9)} ${f.path}${f.reason ? `  (${f.reason})` : ''}\n`,
        );
      for (const a of g.attemptsDetail) {
        const slurm =
          a.executor === 'slurm'
            ? `  slurm job ${a.slurmJobId ?? '(not yet submitted)'} ${a.slurmState ?? ''}`
            : '';
        process.stdout.write(
          `  attempt ${a.attempt}: ${a.outcome ?? 'running'} [${a.executor}${slurm}] ${a.error ?? ''}\n`,
        );
      }
    });
  cmd
    .command('requeue')
    .argument('<group>', 'group id')
    .description('retry a failed, incomplete, abandoned or converted group (attempts reset)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--partial', 'dispatch an incomplete group with the subbands it has')
    .option('--json', 'print JSON')
    .action(async (group: string, o: { config?: string; partial?: boolean; json?: boolean }) => {
      const { requeueGroup } = await admin();
      const g = await withStateDb(o.config, (db, cfg) =>
        requeueGroup(db, group, Date.now(), {
          partial: o.partial,
          maxAttempts: cfg.streamingConverter.maxAttempts,
        }),
      );
      if (o.json) printJson(g);
      else process.stdout.write(`${line(g)}\n`);
    });
  cmd
    .command('abandon')
    .argument('<group>', 'group id')
    .description(
      "stop trying to convert a group (a running conversion is stopped; a Slurm job is scancel'ed)",
    )
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (group: string, o: { config?: string; json?: boolean }) => {
      const { abandonGroup, openAttemptOfGroup } = await admin();
      const { g, open, cfg } = await withStateDb(o.config, (db, c) => ({
        g: abandonGroup(db, group, Date.now()),
        open: openAttemptOfGroup(db, group),
        cfg: c,
      }));
      // The daemon stops the job too when it sees its lease gone; this stops it even while the daemon is down.
      if (open?.executor === 'slurm') {
        const { cancelSlurmAttempt, slurmClientFor } =
          await import('../../daemons/streaming-converter/slurm-cancel.js');
        const ids = await cancelSlurmAttempt(slurmClientFor(cfg.streamingConverter), open);
        if (!o.json && ids.length) process.stderr.write(`scancel'ed Slurm job ${ids.join(', ')}\n`);
      }
      if (o.json) printJson(g);
      else process.stdout.write(`${line(g)}\n`);
    });
}
