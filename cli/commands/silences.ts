// contimg silences add|list|expire: mute alerts matching Alertmanager-style matchers for a while (maintenance,
// a known problem). Acts on the state database; the dispatcher applies changes at its next tick.
import os from 'node:os';
import type { Command } from 'commander';
import type { SilenceRow } from '../../daemons/alert-dispatcher/silences.js';
import { parseDurationMs, printJson, requireConfig, UsageError, withDatabase } from '../util.js';

const silences = () => import('../../daemons/alert-dispatcher/silences.js');

function line(s: SilenceRow): string {
  const until = new Date(s.endsAt).toISOString();
  return `${s.id}  ${s.state.padEnd(8)} until ${until}  {${s.matchers.join(', ')}}  by ${s.createdBy}: ${s.comment}\n`;
}

function time(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`${flag}: expected an ISO time, got "${text}"`);
  return t;
}

export function register(program: Command): void {
  const cmd = program.command('silences').description('silences: mute matching alerts for a while');
  cmd
    .command('add')
    .description(
      'add a silence, e.g. --matcher \'alertname="SystemdUnitDown"\' --duration 2h --comment "maintenance"',
    )
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option(
      '--matcher <m>',
      'a matcher (name="v", name!="v", name=~"re", name!~"re"); repeat for more',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--duration <d>', 'how long (30m, 2h, 3d)')
    .option('--starts-at <iso>', 'start later than now')
    .option('--ends-at <iso>', 'instead of --duration')
    .option('--comment <text>', 'why (required)')
    .option('--by <name>', 'who (default: your user name)')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        config?: string;
        matcher: string[];
        duration?: string;
        startsAt?: string;
        endsAt?: string;
        comment?: string;
        by?: string;
        json?: boolean;
      }) => {
        if (o.matcher.length === 0) throw new UsageError('--matcher: at least one is required');
        if (o.duration === undefined && o.endsAt === undefined)
          throw new UsageError('give --duration or --ends-at');
        const cfg = requireConfig(o.config);
        const now = Date.now();
        const { createSilence } = await silences();
        const input = {
          matchers: o.matcher,
          startsAt: time(o.startsAt, '--starts-at'),
          endsAt: time(o.endsAt, '--ends-at'),
          durationMs: o.duration === undefined ? undefined : parseDurationMs(o.duration),
          createdBy: o.by ?? os.userInfo().username,
          comment: o.comment,
        };
        const s = await withDatabase(cfg, 'state', (db) =>
          db.write((c) =>
            createSilence(c, input, {
              now,
              maxDurationMs: cfg.alertDispatcher.silence.maxDurationDays * 86_400_000,
            }),
          ),
        );
        if (o.json) printJson(s);
        else process.stdout.write(line(s));
      },
    );
  cmd
    .command('list')
    .description('silences, newest first')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--state <s>', 'pending, active or expired')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; state?: string; json?: boolean }) => {
      if (o.state !== undefined && !['pending', 'active', 'expired'].includes(o.state))
        throw new UsageError(`--state: expected pending, active or expired, got "${o.state}"`);
      const { listSilences } = await silences();
      const rows = await withDatabase(requireConfig(o.config), 'state', (db) =>
        db.read((c) => listSilences(c, Date.now(), { state: o.state as SilenceRow['state'] | undefined })),
      );
      if (o.json) printJson(rows);
      else process.stdout.write(rows.map(line).join('') || 'no silences\n');
    });
  cmd
    .command('expire')
    .argument('<id>', 'the silence id')
    .description('end a silence now')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { config?: string; json?: boolean }) => {
      const { expireSilence } = await silences();
      const s = await withDatabase(requireConfig(o.config), 'state', (db) =>
        db.write((c) => expireSilence(c, id, Date.now())),
      );
      if (o.json) printJson(s);
      else process.stdout.write(line(s));
    });
}
