// contimg mosaic plan|list|show: mosaic planning as an operator sees it (docs/mosaicking.md). `plan` runs the
// scheduler's own planner for a tier and a UTC day (or window) and writes the plans and their build jobs,
// exactly as the cron jobs do; --dry-run writes nothing and prints the units, the rejection reasons and the
// memory estimates. `list` and `show` read the plans, with the build attempts, product and QA.
import type { Command } from 'commander';
import { registerMosaicOps } from '../mosaic-ops.js';
import { limitOption, printJson, requireConfig, UsageError } from '../util.js';

type Opts = { config?: string; json?: boolean };

const GIB = 1024 ** 3;
const gb = (b: number | null) => (b === null ? '-' : `${(b / GIB).toFixed(2)} GB`);

export function register(program: Command): void {
  const cmd = program
    .command('mosaic')
    .description('mosaic plans: plan, list, show, requeue, cancel, pause, resume');
  const common = (c: Command) =>
    c.option('--config <file>', 'config file (default: $CONTIMG_CONFIG)').option('--json', 'print JSON');

  common(cmd.command('plan').description('plan a tier for a UTC day or window (writes plans and build jobs)'))
    .requiredOption('--tier <tier>', 'quicklook, science or deep')
    .option('--date <YYYY-MM-DD>', 'the UTC day of observation')
    .option('--from <time>', 'window start (YYYY-MM-DD or ISO time with Z)')
    .option('--to <time>', 'window end (a date: the end of that day)')
    .option('--strip <deg>', 'only this declination strip', Number)
    .option('--ra-min <deg>', 'deep: RA box start', Number)
    .option('--ra-max <deg>', 'deep: RA box end', Number)
    .option('--label <text>', 'deep: the label in the name')
    .option('--dry-run', 'write nothing: print the units, rejection reasons and memory estimates')
    .action(
      async (
        o: Opts & {
          tier: string;
          date?: string;
          from?: string;
          to?: string;
          strip?: number;
          raMin?: number;
          raMax?: number;
          label?: string;
          dryRun?: boolean;
        },
      ) => {
        const config = requireConfig(o.config);
        const { planRequestOf } = await import('../../daemons/scheduler/mosaic/plan-request.js');
        const { ValidationError } = await import('../../lib/errors.js');
        let req;
        try {
          req = planRequestOf(
            {
              tier: o.tier,
              date: o.date,
              from: o.from,
              to: o.to,
              strip: o.strip,
              raMin: o.raMin,
              raMax: o.raMax,
              label: o.label,
              dryRun: o.dryRun ?? false,
            },
            'cli',
          );
        } catch (e) {
          if (e instanceof ValidationError) throw new UsageError(e.message);
          throw e;
        }
        const { withSchedulerContext } = await import('../../daemons/scheduler/standalone.js');
        const { planMosaicWindow } = await import('../../daemons/scheduler/mosaic/plan-job.js');
        const { planRunView } = await import('../../daemons/scheduler/mosaic/plan-admin.js');
        const view = await withSchedulerContext(
          config,
          async (ctx) => planRunView(await planMosaicWindow(ctx, req), req.dryRun === true),
          { quiet: o.json, component: 'mosaic-cli' },
        );
        if (o.json) return printJson(view);
        const reasons = (r: { reason: string; count: number }[]) =>
          r.length ? r.map((x) => `${x.reason} ${x.count}`).join(', ') : 'none';
        process.stdout.write(
          `${view.tier} ${view.window.from} – ${view.window.to}${view.dryRun ? ' (dry run: nothing written)' : ''}\n` +
            `${view.candidates} candidate(s), ${view.waiting} waiting for metadata; rejected: ${reasons(view.rejected)}\n`,
        );
        for (const u of view.units)
          process.stdout.write(
            `  ${u.name.padEnd(44)} ${u.status.padEnd(14)} ${String(u.nInputs).padStart(4)} input(s)  ` +
              `${u.grid ? `${u.grid.nx}×${u.grid.ny}` : '-'}  memory ${gb(u.estMemoryBytes)}` +
              `${u.outcome ? `  → ${u.outcome} ${u.plan}` : ''}\n    rejected: ${reasons(u.rejected)}\n`,
          );
        if (!view.units.length) process.stdout.write('  no units\n');
      },
    );

  common(cmd.command('list').description('mosaic plans, newest window first'))
    .option('--tier <tier>', 'only this tier')
    .option('--state <state>', 'only this state (queued, building, built, failed, empty, …)')
    .option('--limit <n>', 'at most this many', limitOption, 50)
    .action(async (o: Opts & { tier?: string; state?: string; limit: number }) => {
      const config = requireConfig(o.config);
      const { withDatabase } = await import('../util.js');
      const { listPlans } = await import('../../daemons/scheduler/mosaic/plan-admin.js');
      const plans = await withDatabase(config, 'state', (db) => db.read((c) => listPlans(c, o)), {
        readonly: true,
      });
      if (o.json) return printJson(plans);
      process.stdout.write(
        plans
          .map(
            (p) =>
              `${p.name.padEnd(48)} ${p.state.padEnd(10)} ${String(p.nSelected).padStart(4)} input(s)  ` +
              `${p.windowStart} – ${p.windowEnd}${p.errorCode ? `  ${p.errorCode}` : ''}\n`,
          )
          .join('') || 'no plans\n',
      );
    });

  common(cmd.command('show').argument('<name>', 'the plan name'))
    .description('one plan: inputs, build attempts, product and QA')
    .action(async (name: string, o: Opts) => {
      const config = requireConfig(o.config);
      const { withDatabase } = await import('../util.js');
      const { showPlan } = await import('../../daemons/scheduler/mosaic/plan-admin.js');
      const shown = await withDatabase(config, 'state', (db) => db.read((c) => showPlan(c, name)), {
        readonly: true,
      });
      if (!shown) {
        const { NotFoundError } = await import('../../lib/errors.js');
        throw new NotFoundError(`no mosaic plan named ${name}`, { name });
      }
      if (o.json) return printJson(shown);
      const p = shown.plan;
      process.stdout.write(
        `${p.name}  ${p.tier} strip ${p.strip}  ${p.state}${p.errorCode ? ` (${p.errorCode}: ${p.error})` : ''}\n` +
          `window ${p.windowStart} – ${p.windowEnd}; RA ${p.raMinDeg ?? '-'}–${p.raMaxDeg ?? '-'}; frame ${p.frame ?? '-'}\n` +
          `inputs ${p.nSelected} of ${p.nCandidates}; rejected: ${p.rejected.map((r) => `${r.reason} ${r.count}`).join(', ') || 'none'}\n` +
          `grid ${p.grid ? `${p.grid.nx}×${p.grid.ny} at ${String(p.grid.pixelArcsec)}″ ${String(p.grid.projection)}` : '-'}; memory ${gb(p.estMemoryBytes)}; inputs hash ${p.inputsHash}\n` +
          `attempts ${shown.attempts.length}; product ${shown.product ? String(shown.product.path) : 'none'}; QA rows ${shown.qa.length}\n`,
      );
      for (const i of shown.inputs) process.stdout.write(`  ${String(i.obsMid)}  ${String(i.path)}\n`);
    });

  // ── mosaic requeue | cancel | pause | resume: the dispatcher's operator actions ──────────────────────────
  registerMosaicOps(cmd);
}
