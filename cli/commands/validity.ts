// contimg validity: the calibration registry evaluated now (read-only, same code as the validity job): sets
// covering now, the nearest complete set's age, when coverage ends, and what the job would alert on.
import type { Command } from 'commander';
import { printJson, requireConfig } from '../util.js';

export function register(program: Command): void {
  program
    .command('validity')
    .description('calibration validity now: covering sets, nearest complete set, findings (read-only)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; json?: boolean }) => {
      const config = requireConfig(o.config);
      const { withSchedulerContext } = await import('../../daemons/scheduler/standalone.js');
      const { validityReport } = await import('../../daemons/scheduler/validity/job.js');
      const r = await withSchedulerContext(config, (ctx) => validityReport(ctx), { quiet: true });
      if (o.json) return printJson(r);
      const out: string[] = [
        `sets (active): ${r.sets}; covering now: ${r.covering.length ? r.covering.join(', ') : 'none'}`,
        r.nearest
          ? `nearest complete set: ${r.nearest.set}, ${r.nearest.ageHours.toFixed(1)} h from now (midpoint ${r.nearest.midpoint})`
          : 'nearest complete set: none',
        `coverage ends in: ${Number.isFinite(r.hoursUntilExpiry) ? `${r.hoursUntilExpiry.toFixed(2)} h` : 'never (open window)'}; expiring soon: ${r.expiringSoon}; ended in the lookback: ${r.expired}`,
        `newest complete set: ${r.newestComplete ? `${r.newestComplete.set} (created ${r.newestComplete.createdAt})` : 'none'}`,
      ];
      if (r.incomplete.length) out.push(`incomplete recent sets: ${r.incomplete.join(', ')}`);
      for (const [set, paths] of Object.entries(r.missingTables))
        out.push(`missing on disk (${set}): ${paths.join(', ')}`);
      for (const c of r.conflicts) out.push(`overlap conflict: ${c.a} vs ${c.b}`);
      out.push(r.findings.length ? 'findings:' : 'findings: none');
      for (const f of r.findings) out.push(`  ${f.severity.padEnd(8)} ${f.alertname}  ${f.summary}`);
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
