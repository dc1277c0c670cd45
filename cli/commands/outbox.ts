// contimg outbox list|show|retry: the alert dispatcher's durable outbox: what was sent, what waits, what died
// and why (every attempt), and sending a dead notification again.
import type { Command } from 'commander';
import type { OutboxListItem } from '../../daemons/alert-dispatcher/admin.js';
import { numberOption, printJson, requireConfig, UsageError, withDatabase } from '../util.js';

const admin = () => import('../../daemons/alert-dispatcher/admin.js');

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

function line(n: OutboxListItem): string {
  return `${String(n.id).padStart(6)}  ${n.receiver.padEnd(12)} ${n.kind.padEnd(10)} ${n.state.padEnd(10)} attempts ${n.attempts}  created ${iso(n.createdAt)}  sent ${iso(n.sentAt)}  ${n.groupKey}\n`;
}

function idArg(text: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id <= 0)
    throw new UsageError(`bad notification id "${text}": expected a positive integer`);
  return id;
}

export function register(program: Command): void {
  const cmd = program.command('outbox').description('the alert dispatcher outbox: list, show, retry');
  cmd
    .command('list')
    .description('notifications, newest first')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--state <s>', 'held, pending, sending, retry_wait, sent, dead or superseded')
    .option('--receiver <name>', 'only this receiver')
    .option('--limit <n>', 'at most this many', numberOption('--limit', { integer: true, min: 1 }), 50)
    .option('--json', 'print JSON')
    .action(
      async (o: { config?: string; state?: string; receiver?: string; limit: number; json?: boolean }) => {
        const { listOutbox } = await admin();
        const rows = await withDatabase(requireConfig(o.config), 'state', (db) =>
          db.read((c) => listOutbox(c, { state: o.state, receiver: o.receiver, limit: o.limit })),
        );
        if (o.json) printJson(rows);
        else process.stdout.write(rows.map(line).join('') || 'no notifications\n');
      },
    );
  cmd
    .command('show')
    .argument('<id>', 'notification id')
    .description('one notification in full, with every delivery attempt')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { config?: string; json?: boolean }) => {
      const { showOutbox } = await admin();
      const n = await withDatabase(requireConfig(o.config), 'state', (db) =>
        db.read((c) => showOutbox(c, idArg(id))),
      );
      if (o.json) return printJson(n);
      process.stdout.write(
        `${n.id}  ${n.receiver} ${n.kind} ${n.state}  attempts ${n.attempts}  ${n.groupKey}\n  created ${iso(n.createdAt)}  sent ${iso(n.sentAt)}  dead ${iso(n.deadAt)}\n`,
      );
      if (n.lastError) process.stdout.write(`  last error: ${n.lastError}\n`);
      for (const a of n.attemptLog)
        process.stdout.write(
          `  attempt ${a.attemptNo}: ${a.result ?? 'in flight'} at ${iso(a.startedAt)}${a.durationMs !== null ? ` (${a.durationMs} ms)` : ''}${a.error ? `  ${a.error}` : ''}\n`,
        );
    });
  cmd
    .command('retry')
    .argument('<id>', 'notification id')
    .description('send a dead (or waiting) notification again now')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { config?: string; json?: boolean }) => {
      const cfg = requireConfig(o.config);
      const { retryNotification } = await admin();
      const { SqliteQueueStore } = await import('../../lib/queue/index.js');
      const n = await withDatabase(cfg, 'state', (db) =>
        db.write((c) =>
          retryNotification(c, idArg(id), {
            queue: new SqliteQueueStore(db),
            maxAttempts: cfg.alertDispatcher.retry.maxAttempts,
            maxAlerts: cfg.alertDispatcher.maxAlertsPerMessage,
            now: Date.now(),
          }),
        ),
      );
      if (o.json) printJson({ id: n.id, receiver: n.receiver, state: n.state });
      else process.stdout.write(`notification ${n.id} to ${n.receiver}: ${n.state}\n`);
    });
}
