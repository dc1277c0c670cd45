// contimg jobs list|show|stats|redrive|rerun|cancel: the durable job queue (conversions, thumbnail renders)
// as an operator sees it. Acts on the state database directly; every change is one guarded UPDATE, so it is
// safe while the daemons run.
import type { Command } from 'commander';
import type { Job } from '../../lib/queue/index.js';
import { limitOption, printJson, requireConfig, UsageError, withDatabase } from '../util.js';

const queueModule = () => import('../../lib/queue/index.js');

function jobId(text: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id <= 0)
    throw new UsageError(`bad job id "${text}": expected a positive integer`);
  return id;
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

function line(j: Job): string {
  const err = j.lastError ? `  ${j.lastError.split('\n')[0].slice(0, 120)}` : '';
  return `${String(j.id).padStart(6)}  ${j.queue.padEnd(12)} ${j.kind.padEnd(14)} ${j.state.padEnd(9)} attempts ${j.attempts}/${j.maxAttempts}  ${iso(j.updatedAt)}${err}\n`;
}

type Opts = { config?: string; json?: boolean };

/** Run an action on the queue store with the state database open, and print its result. */
async function withStore<T>(
  o: Opts,
  fn: (store: InstanceType<Awaited<ReturnType<typeof queueModule>>['SqliteQueueStore']>) => T,
  show: (value: T) => string,
): Promise<void> {
  const { SqliteQueueStore } = await queueModule();
  const value = await withDatabase(requireConfig(o.config), 'state', (db) => fn(new SqliteQueueStore(db)), {
    readonly: false,
  });
  if (o.json) printJson(value);
  else process.stdout.write(show(value));
}

export function register(program: Command): void {
  const cmd = program
    .command('jobs')
    .description('the durable job queue: list, inspect, redrive, rerun, cancel');
  const common = (c: Command) =>
    c.option('--config <file>', 'config file (default: $CONTIMG_CONFIG)').option('--json', 'print JSON');

  common(cmd.command('list').description('jobs, newest first'))
    .option('--queue <q>', 'only this queue (e.g. conversions, thumbnails)')
    .option('--state <s>', 'only this state (queued, running, done, dead, cancelled)')
    .option('--limit <n>', 'at most this many', limitOption, 50)
    .action((o: Opts & { queue?: string; state?: string; limit: number }) => {
      const limit = o.limit;
      return withStore(
        o,
        (s) => s.list({ queue: o.queue, state: o.state as Job['state'] | undefined, limit }),
        (jobs) => jobs.map(line).join('') || 'no jobs\n',
      );
    });

  common(cmd.command('show').argument('<id>', 'job id').description('one job in full')).action(
    (id: string, o: Opts) =>
      withStore(
        o,
        (s) => s.get(jobId(id)) ?? null,
        (j) => (j ? `${JSON.stringify(j, null, 2)}\n` : `no job ${id}\n`),
      ),
  );

  common(cmd.command('stats').description('counts per queue and state, and the oldest due job')).action(
    (o: Opts) =>
      withStore(
        o,
        (s) => s.stats(),
        (rows) =>
          rows.map((r) => `${r.queue.padEnd(14)} ${JSON.stringify(r.counts)}\n`).join('') || 'no jobs\n',
      ),
  );

  common(
    cmd.command('redrive').argument('<id>', 'job id').description('requeue a dead job, attempts reset'),
  ).action((id: string, o: Opts) => withStore(o, (s) => s.redrive(jobId(id)), line));

  common(
    cmd
      .command('rerun')
      .argument('<id>', 'job id')
      .description('run a finished job again as a new job linked to it (parent_id)')
      .option('--set <json>', 'payload overrides as a JSON object', '{}'),
  ).action((id: string, o: Opts & { set: string }) => {
    let overrides: unknown;
    try {
      overrides = JSON.parse(o.set);
    } catch {
      throw new UsageError(`--set is not JSON: ${o.set}`);
    }
    if (!overrides || typeof overrides !== 'object' || Array.isArray(overrides))
      throw new UsageError('--set must be a JSON object');
    return withStore(
      o,
      (s) => {
        // A conversion belongs to its observation group: a bare rerun job would have no group to convert.
        if (s.get(jobId(id))?.queue === 'conversions')
          throw new UsageError('conversions are rerun through their group: contimg converter requeue GROUP');
        return s.rerun(jobId(id), overrides as Record<string, unknown>);
      },
      line,
    );
  });

  common(
    cmd.command('cancel').argument('<id>', 'job id').description('cancel a queued or running job'),
  ).action((id: string, o: Opts) => withStore(o, (s) => s.cancel(jobId(id)), line));
}
