// contimg alerts list|show|ack|unack: what the daemons raised into the `alerts` table, with the dispatcher's
// view of each (delivered, muted by a silence or inhibition, acknowledged), and acknowledgements. Acts on the
// state database directly, so it works whether or not the dispatcher is running; acks take effect at its
// next tick.
import os from 'node:os';
import type { Command } from 'commander';
import type { AlertWithState } from '../../daemons/alert-dispatcher/admin.js';
import { limitOption, parseDurationMs, printJson, requireConfig, UsageError, withDatabase } from '../util.js';

function line(a: AlertWithState): string {
  const labels = Object.entries(a.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const summary = a.annotations.summary ? `  ${a.annotations.summary}` : '';
  const state = a.state === a.status ? '' : ` (${a.state})`;
  return `${a.status.padEnd(8)} ${a.severity.padEnd(8)} ${a.alertname}{${labels}}${state}  since ${new Date(a.startsAt).toISOString()}  [${a.fingerprint}]${summary}\n`;
}

const admin = () => import('../../daemons/alert-dispatcher/admin.js');
const acks = () => import('../../daemons/alert-dispatcher/acks.js');

export function register(program: Command): void {
  const cmd = program.command('alerts').description('alerts raised by the daemons: list, show, acknowledge');
  cmd
    .command('list')
    .description('alerts, most recently changed first, with their state (firing, muted, acked, resolved)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--status <s>', 'firing or resolved')
    .option('--limit <n>', 'at most this many', limitOption, 200)
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; status?: string; limit: number; json?: boolean }) => {
      if (o.status !== undefined && o.status !== 'firing' && o.status !== 'resolved')
        throw new UsageError(`--status: expected firing or resolved, got "${o.status}"`);
      const cfg = requireConfig(o.config);
      const { alertsWithState } = await admin();
      const status = o.status as 'firing' | 'resolved' | undefined;
      const rows = await withDatabase(cfg, 'state', (db) =>
        db.read((c) => alertsWithState(c, cfg.alertDispatcher, Date.now(), { status, limit: o.limit })),
      );
      if (o.json) printJson(rows);
      else process.stdout.write(rows.map(line).join('') || 'no alerts\n');
    });
  cmd
    .command('show')
    .argument('<fingerprint>', 'the alert fingerprint (from alerts list)')
    .description('one alert, its state and its history of firing, updates and resolution')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (fingerprint: string, o: { config?: string; json?: boolean }) => {
      const cfg = requireConfig(o.config);
      const { showAlert } = await admin();
      const value = await withDatabase(cfg, 'state', (db) =>
        db.read((c) => showAlert(c, cfg.alertDispatcher, fingerprint, Date.now())),
      );
      if (o.json) return printJson(value);
      process.stdout.write(line(value));
      if (value.ack)
        process.stdout.write(
          `  acknowledged by ${value.ack.ackedBy} at ${new Date(value.ack.ackedAt).toISOString()}${value.ack.comment ? `: ${value.ack.comment}` : ''}\n`,
        );
      for (const h of value.history)
        process.stdout.write(
          `  ${new Date(h.at).toISOString()}  ${h.event} (episode ${h.episode}, ${h.severity})\n`,
        );
    });
  cmd
    .command('ack')
    .argument('<fingerprint>', 'the alert fingerprint')
    .description(
      'acknowledge a firing alert: no more repeats or escalation this episode (resolution still sent)',
    )
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--by <name>', 'who takes it (default: your user name)')
    .option('--comment <text>', 'why, or what you are doing about it', '')
    .option('--for <duration>', 'the ack lapses after this long (e.g. 4h); default: until it resolves')
    .option('--json', 'print JSON')
    .action(
      async (
        fingerprint: string,
        o: { config?: string; by?: string; comment: string; for?: string; json?: boolean },
      ) => {
        const now = Date.now();
        const until = o.for === undefined ? null : now + parseDurationMs(o.for);
        const { ackAlert } = await acks();
        const ack = await withDatabase(requireConfig(o.config), 'state', (db) =>
          db.write((c) =>
            ackAlert(c, fingerprint, { by: o.by ?? os.userInfo().username, comment: o.comment, until }, now),
          ),
        );
        if (o.json) printJson(ack);
        else process.stdout.write(`acknowledged ${fingerprint} (episode ${ack.episode}) by ${ack.ackedBy}\n`);
      },
    );
  cmd
    .command('unack')
    .argument('<fingerprint>', 'the alert fingerprint')
    .description('withdraw an acknowledgement: repeats and escalation resume')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (fingerprint: string, o: { config?: string; json?: boolean }) => {
      const { unackAlert } = await acks();
      await withDatabase(requireConfig(o.config), 'state', (db) =>
        db.write((c) => unackAlert(c, fingerprint, Date.now())),
      );
      if (o.json) printJson({ fingerprint, acked: false });
      else process.stdout.write(`acknowledgement of ${fingerprint} withdrawn\n`);
    });
}
