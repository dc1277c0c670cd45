// contimg receivers list|test: the configured alert receivers (never their secrets) with what waits in the
// outbox for each, and a test message that the running dispatcher delivers like any other.
import os from 'node:os';
import type { Command } from 'commander';
import { numberOption, printJson, requireConfig, withDatabase } from '../util.js';

export function register(program: Command): void {
  const cmd = program.command('receivers').description('alert receivers: list, send a test message');
  cmd
    .command('list')
    .description('receivers with their type, target (no secrets) and outbox counts')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; json?: boolean }) => {
      const cfg = requireConfig(o.config);
      const { describeReceiver } = await import('../../daemons/alert-dispatcher/receivers.js');
      const counts = await withDatabase(cfg, 'state', (db) =>
        db.read(
          (c) =>
            c
              .prepare('SELECT receiver, state, count(*) AS n FROM notifications GROUP BY receiver, state')
              .all() as {
              receiver: string;
              state: string;
              n: number;
            }[],
        ),
      );
      const rows = cfg.alertDispatcher.receivers.map((r) => ({
        ...describeReceiver(r),
        outbox: Object.fromEntries(counts.filter((c) => c.receiver === r.name).map((c) => [c.state, c.n])),
      }));
      if (o.json) return printJson(rows);
      for (const r of rows)
        process.stdout.write(
          `${r.name.padEnd(16)} ${r.type.padEnd(8)} ${r.target}  ${JSON.stringify(r.outbox)}\n`,
        );
    });
  cmd
    .command('test')
    .argument('<name>', 'receiver name')
    .description('queue a test message to a receiver and wait until the running dispatcher delivered it')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--by <name>', 'who asks (default: your user name)')
    .option(
      '--wait <s>',
      'seconds to wait for delivery (0: do not wait)',
      numberOption('--wait', { min: 0 }),
      30,
    )
    .option('--json', 'print JSON')
    .action(async (name: string, o: { config?: string; by?: string; wait: number; json?: boolean }) => {
      const cfg = requireConfig(o.config);
      const { enqueueTest, showOutbox } = await import('../../daemons/alert-dispatcher/admin.js');
      const { SqliteQueueStore } = await import('../../lib/queue/index.js');
      const ad = cfg.alertDispatcher;
      const result = await withDatabase(cfg, 'state', async (db) => {
        const { id } = db.write((c) =>
          enqueueTest(
            c,
            name,
            {
              cfg: ad,
              by: o.by ?? os.userInfo().username,
              host: os.hostname(),
              externalUrl: ad.externalUrl ?? `http://127.0.0.1:${ad.port}`,
            },
            {
              queue: new SqliteQueueStore(db),
              maxAttempts: ad.retry.maxAttempts,
              maxAlerts: ad.maxAlertsPerMessage,
              now: Date.now(),
            },
          ),
        );
        const deadline = Date.now() + o.wait * 1000;
        for (;;) {
          const n = db.read((c) => showOutbox(c, id));
          const done = n.state === 'sent' || n.state === 'dead';
          if (done || Date.now() >= deadline)
            return { id, receiver: name, state: n.state, attempts: n.attempts, lastError: n.lastError };
          await new Promise((r) => setTimeout(r, 200));
        }
      });
      if (o.json) printJson(result);
      else
        process.stdout.write(
          `test notification ${result.id} to ${name}: ${result.state}${result.lastError ? ` (${result.lastError})` : ''}\n`,
        );
      if (result.state === 'dead') process.exitCode = 1;
      else if (result.state !== 'sent' && o.wait > 0) {
        process.stderr.write(
          `contimg: not delivered within ${o.wait} s: is contimg-alert-dispatcher running?\n`,
        );
        process.exitCode = 1;
      }
    });
}
