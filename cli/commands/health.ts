// contimg health: the health targets as the scheduler's last health run left them (health_checks), with the
// overall status. Read-only and cheap: it probes nothing (`contimg scheduler run health` does).
import type { Command } from 'commander';
import { printJson, requireConfig, withDatabase } from '../util.js';

export function register(program: Command): void {
  program
    .command('health')
    .description('health targets and the overall status from the last health run (exit 1 unless healthy)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; json?: boolean }) => {
      const { healthReport } = await import('../../daemons/scheduler/admin.js');
      const report = await withDatabase(requireConfig(o.config), 'state', (db) => db.read(healthReport));
      if (report.status !== 'healthy') process.exitCode = 1;
      if (o.json) return printJson(report);
      if (report.targets.length === 0) {
        process.stdout.write(
          'no health run yet (is the scheduler running? `contimg scheduler run health`)\n',
        );
        return;
      }
      process.stdout.write(`overall: ${report.status} (checked ${report.checkedAt})\n`);
      for (const t of report.targets)
        process.stdout.write(
          `${t.status.padEnd(11)} ${`${t.kind}:${t.name}`.padEnd(44)} since ${t.statusSince}  ${t.detail}` +
            `${t.critical ? '  [critical]' : ''}${t.alerting ? `  ALERT ${t.alerting}` : ''}\n`,
        );
    });
}
