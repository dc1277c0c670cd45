// contimg flux: the calibrator flux check evaluated now (read-only, same code as the flux job): per calibrator
// the window's observed/catalog ratios, drift, scale offset, and what the job would alert on.
import type { Command } from 'commander';
import { printJson, requireConfig } from '../util.js';

export function register(program: Command): void {
  program
    .command('flux')
    .description('calibrator flux ratios and drift over the window, and the findings (read-only)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--calibrator <name>', 'only this calibrator')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; calibrator?: string; json?: boolean }) => {
      const config = requireConfig(o.config);
      const { withSchedulerContext } = await import('../../daemons/scheduler/standalone.js');
      const { fluxReport } = await import('../../daemons/scheduler/flux/job.js');
      const r = await withSchedulerContext(config, (ctx) => fluxReport(ctx), { quiet: true });
      const cals = r.calibrators.filter((c) => o.calibrator === undefined || c.calibrator === o.calibrator);
      if (o.json) return printJson({ ...r, calibrators: cals });
      const out = [
        `window ${r.windowDays} d: ${r.rows} rows (${r.excluded} excluded: catalog flux or ratio ≤ 0); newest ${r.newestMs === null ? 'none' : new Date(r.newestMs).toISOString()}`,
      ];
      for (const c of cals)
        out.push(
          `${c.calibrator.padEnd(14)} n=${String(c.n).padEnd(4)} mean ${c.mean.toFixed(3)}  latest ${c.latest.toFixed(3)}  ` +
            `min ${c.min.toFixed(3)}  max ${c.max.toFixed(3)}  drift ${c.driftPct.toFixed(1)}% (${c.drift})` +
            `${c.scaleOffset ? '  SCALE OFFSET' : ''}${c.stable ? '' : '  unstable'}`,
        );
      if (cals.length === 0) out.push('no calibrator with measurements in the window');
      out.push(r.findings.length ? 'findings:' : 'findings: none');
      for (const f of r.findings) out.push(`  ${f.severity.padEnd(8)} ${f.alertname}  ${f.summary}`);
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
