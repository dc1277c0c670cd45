// contimg alerts list|show: what the daemons have raised into the `alerts` table. Read-only; delivery to
// Slack and e-mail is the alert dispatcher's job (its own issue), so this is how an operator sees alerts now.
import type { Command } from 'commander';
import type { AlertRow } from '../../lib/alerts/index.js';
import { limitOption, printJson, requireConfig, UsageError, withDatabase } from '../util.js';

function line(a: AlertRow): string {
  const labels = Object.entries(a.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const summary = a.annotations.summary ? `  ${a.annotations.summary}` : '';
  return `${a.status.padEnd(8)} ${a.severity.padEnd(8)} ${a.alertname}{${labels}}  since ${new Date(a.startsAt).toISOString()}  [${a.fingerprint}]${summary}\n`;
}

export function register(program: Command): void {
  const cmd = program.command('alerts').description('alerts raised by the daemons (firing and resolved)');
  cmd
    .command('list')
    .description('alerts, most recently changed first')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--status <s>', 'firing or resolved')
    .option('--limit <n>', 'at most this many', limitOption, 200)
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; status?: string; limit: number; json?: boolean }) => {
      if (o.status !== undefined && o.status !== 'firing' && o.status !== 'resolved')
        throw new UsageError(`--status: expected firing or resolved, got "${o.status}"`);
      const limit = o.limit;
      const { listAlerts } = await import('../../lib/alerts/index.js');
      const rows = await withDatabase(requireConfig(o.config), 'state', (db) =>
        db.read((c) => listAlerts(c, { status: o.status as AlertRow['status'] | undefined, limit })),
      );
      if (o.json) printJson(rows);
      else process.stdout.write(rows.map(line).join('') || 'no alerts\n');
    });
  cmd
    .command('show')
    .argument('<fingerprint>', 'the alert fingerprint (from alerts list)')
    .description('one alert and its history of firing, updates and resolution')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (fingerprint: string, o: { config?: string; json?: boolean }) => {
      const { alertHistory, getAlert } = await import('../../lib/alerts/index.js');
      const { NotFoundError } = await import('../../lib/errors.js');
      const value = await withDatabase(requireConfig(o.config), 'state', (db) =>
        db.read((c) => {
          const alert = getAlert(c, fingerprint);
          if (!alert) throw new NotFoundError(`no alert with fingerprint ${fingerprint}`);
          return { ...alert, history: alertHistory(c, fingerprint) };
        }),
      );
      if (o.json) return printJson(value);
      process.stdout.write(line(value));
      for (const h of value.history)
        process.stdout.write(
          `  ${new Date(h.at).toISOString()}  ${h.event} (episode ${h.episode}, ${h.severity})\n`,
        );
    });
}
