// contimg scheduler jobs|history|run: the scheduler's jobs as an operator sees them. `run JOB` runs one job
// once, now, in the foreground through the daemon's own code (its job_runs row, its alerts), whether or not
// the daemon is running: the job's lease keeps the two from running one job at once (exit 4 then).
import type { Command } from 'commander';
import { EXIT } from '../../lib/errors.js';
import { numberOption, printJson, requireConfig, UsageError } from '../util.js';

type Opts = { config?: string; json?: boolean };

/** The job names (lib/config/sections/scheduler.ts JOB_NAMES), spelled out so --help imports no config code. */
const JOB_LIST =
  'health, validity, flux, retention, watchdog, mosaicQuicklook, mosaicScience or mosaicWatchdog';

const iso = (ms: number | null): string =>
  ms === null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z');

export function register(program: Command): void {
  const cmd = program.command('scheduler').description('the scheduler jobs: list, history, run one now');
  const common = (c: Command) =>
    c.option('--config <file>', 'config file (default: $CONTIMG_CONFIG)').option('--json', 'print JSON');

  common(
    cmd.command('jobs').description('each job: cron, last run, last success, next run, late/failing'),
  ).action(async (o: Opts) => {
    const config = requireConfig(o.config);
    const { withSchedulerContext } = await import('../../daemons/scheduler/standalone.js');
    const { jobsReport } = await import('../../daemons/scheduler/admin.js');
    const jobs = await withSchedulerContext(
      config,
      async (ctx) => ctx.state.read((c) => jobsReport(c, config, ctx.clock.now())),
      { quiet: true },
    );
    if (o.json) return printJson(jobs);
    for (const j of jobs) {
      const last = j.lastRun ? `${j.lastRun.result} at ${j.lastRun.startedAt}` : 'never run';
      const flags = [j.late && 'LATE', j.failingStreak > 0 && `failed ${j.failingStreak}× in a row`].filter(
        Boolean,
      );
      process.stdout.write(
        `${j.job.padEnd(15)} ${(j.enabled ? j.cron : 'disabled').padEnd(14)} last ${last}; ` +
          `success ${j.lastSuccessAt ?? 'never'}; next ${j.nextRunAt ?? '-'}${flags.length ? `  [${flags.join(', ')}]` : ''}\n`,
      );
    }
  });

  common(cmd.command('history').description('job runs, newest first'))
    .option('--job <name>', 'only this job')
    .option('--limit <n>', 'at most this many', numberOption('--limit', { integer: true, min: 1 }), 30)
    .action(async (o: Opts & { job?: string; limit: number }) => {
      const config = requireConfig(o.config);
      const { isJobName } = await import('../../daemons/scheduler/runner.js');
      if (o.job !== undefined && !isJobName(o.job)) throw new UsageError(`--job: no job named "${o.job}"`);
      const { withSchedulerContext } = await import('../../daemons/scheduler/standalone.js');
      const { listRuns } = await import('../../daemons/scheduler/store.js');
      const runs = await withSchedulerContext(
        config,
        async (ctx) => ctx.state.read((c) => listRuns(c, { job: o.job, limit: o.limit })),
        { quiet: true },
      );
      if (o.json) return printJson(runs);
      process.stdout.write(
        runs
          .map(
            (r) =>
              `${String(r.id).padStart(7)}  ${r.job.padEnd(15)} ${r.trigger.padEnd(8)} ${r.result.padEnd(16)}` +
              ` ${iso(r.startedAt)}  ${r.durationMs === null ? '-' : `${r.durationMs} ms`}${r.error ? `  ${r.error.slice(0, 120)}` : ''}\n`,
          )
          .join('') || 'no runs\n',
      );
    });

  common(cmd.command('run').argument('<job>', JOB_LIST))
    .description('run one job once, now, in the foreground (records its run and its alerts)')
    .action(async (job: string, o: Opts) => {
      const config = requireConfig(o.config);
      const { isJobName, JobRunner } = await import('../../daemons/scheduler/runner.js');
      if (!isJobName(job)) throw new UsageError(`no job named "${job}": ${JOB_LIST}`);
      const { withSchedulerContext } = await import('../../daemons/scheduler/standalone.js');
      const out = await withSchedulerContext(
        config,
        (ctx) => new JobRunner(ctx).run({ job, trigger: 'manual', scheduledFor: null }),
        { quiet: o.json, component: 'scheduler-cli' },
      );
      if (o.json) printJson({ job, ...out });
      else {
        process.stdout.write(
          `${job}: ${out.result}${out.runId === null ? '' : ` (run ${out.runId})`} in ${Math.round(out.durationMs)} ms\n`,
        );
        if (out.error) process.stdout.write(`error: ${out.error}\n`);
        if (out.summary !== null) process.stdout.write(`${JSON.stringify(out.summary, null, 2)}\n`);
      }
      if (out.result === 'skipped_overlap') process.exitCode = EXIT.LOCKED;
      else if (out.result !== 'ok') process.exitCode = EXIT.FAILURE;
    });
}
