// contimg mosaic requeue|cancel|pause|resume: operators' actions on mosaic builds, one state-database write
// each (daemons/scheduler/mosaic/ops.ts; safe while the scheduler runs). cli/commands/mosaic.ts adds them to
// its `contimg mosaic` command.
import os from 'node:os';
import type { Command } from 'commander';
import type { Db } from '../lib/db/index.js';
import { printJson, requireConfig, withDatabase } from './util.js';

/** Open the state database from the config (the one way: cli/util.ts withDatabase), run fn with both. */
async function withStateDb<T>(
  configOpt: string | undefined,
  fn: (db: Db, cfg: ReturnType<typeof requireConfig>) => T,
): Promise<T> {
  const cfg = requireConfig(configOpt);
  return withDatabase(cfg, 'state', (db) => fn(db, cfg));
}

const ops = () => import('../daemons/scheduler/mosaic/ops.js');
const operator = (): string => `${os.userInfo().username}@cli`;
const planRef = (ref: string): string | number => (/^\d+$/.test(ref) ? Number(ref) : ref);

export function registerMosaicOps(mosaic: Command): void {
  mosaic
    .command('requeue')
    .argument('<plan>', 'plan name or id')
    .description('build a failed or cancelled plan again (fresh attempts; resolves its MosaicBuildFailed)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (plan: string, o: { config?: string; json?: boolean }) => {
      const { requeuePlan } = await ops();
      const r = await withStateDb(o.config, (db, cfg) =>
        requeuePlan(db, cfg.scheduler.mosaic, planRef(plan), { by: operator(), now: Date.now() }),
      );
      if (o.json) printJson(r);
      else process.stdout.write(`${r.plan}: queued (job ${r.jobId})\n`);
    });
  mosaic
    .command('cancel')
    .argument('<plan>', 'plan name or id')
    .description('cancel a queued, waiting, building or failed plan (a running build is stopped)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (plan: string, o: { config?: string; json?: boolean }) => {
      const { cancelPlan } = await ops();
      const r = await withStateDb(o.config, (db) =>
        cancelPlan(db, planRef(plan), { by: operator(), now: Date.now() }),
      );
      if (o.json) printJson(r);
      else process.stdout.write(`${r.plan}: cancelled (was ${r.was})\n`);
    });
  mosaic
    .command('pause')
    .description('pause mosaic dispatch (running builds go on); MosaicDispatchPaused fires after 15 min')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--note <text>', 'why (kept with the pause)')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; note?: string; json?: boolean }) => {
      const { pauseDispatch } = await ops();
      const r = await withStateDb(o.config, (db) =>
        pauseDispatch(db, { by: operator(), note: o.note, now: Date.now() }),
      );
      if (o.json) printJson(r);
      else process.stdout.write(`mosaic dispatch paused since ${new Date(r.since).toISOString()}\n`);
    });
  mosaic
    .command('resume')
    .description("lift the operator's pause of mosaic dispatch (disk pauses lift when space returns)")
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; json?: boolean }) => {
      const { resumeDispatch } = await ops();
      const r = await withStateDb(o.config, (db) => resumeDispatch(db, { by: operator(), now: Date.now() }));
      if (o.json) printJson(r);
      else
        process.stdout.write(r.wasPaused ? 'mosaic dispatch resumed\n' : 'mosaic dispatch was not paused\n');
    });
}
