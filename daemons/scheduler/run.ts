// run(deps, signal) for the scheduler: the job runner, the triggers (node-cron, behind the scheduler lease),
// the gauge refresh, and the API. On stop: no new triggers; runs in progress finish within the drain budget
// (the hard stop aborts them, killing their probes), then the lease is handed back.
import { env } from 'node:process';
import type { DaemonRun } from '../../lib/daemon/types.js';
import { resolveHttpToken } from '../../lib/http/auth.js';
import { leaseOwner } from '../../lib/leases/index.js';
import { registerRoutes } from './api.js';
import { MosaicDispatcher } from './mosaic/dispatch.js';
import { hostLabel, type SchedulerContext } from './context.js';
import { schedulerMetrics } from './metrics.js';
import { JobRunner } from './runner.js';
import { Scheduler } from './scheduler.js';

export const run: DaemonRun = async (deps, signal) => {
  const ctx: SchedulerContext = {
    config: deps.config,
    state: deps.state,
    pipeline: deps.pipeline,
    clock: deps.clock,
    log: deps.log.child({ component: 'scheduler' }),
    metrics: schedulerMetrics(deps.registry),
    env: { ...env },
    owner: leaseOwner('scheduler'),
    host: hostLabel(),
    daemonToken: resolveHttpToken(deps.config.http),
  };
  const runner = new JobRunner(ctx, { hardStop: deps.hardStop });
  let role: 'leader' | 'standby' = 'standby';
  const sched = new Scheduler(ctx, runner, {
    signal,
    onRole: (r) => {
      role = r;
      deps.setStatus(r === 'leader' ? 'scheduler: leading, running the cron jobs' : 'scheduler: standby');
    },
  });
  registerRoutes(deps.http, ctx, runner, sched);
  deps.addReadinessCheck('scheduler', () => ({ ok: true, detail: role }));
  deps.setStatus('scheduler: starting');
  sched.start();
  // Mosaic builds: the `mosaic` queue's worker (the queue, not the scheduler lease, keeps a build to one
  // builder, so a standby scheduler dispatches too).
  const mosaic = deps.config.scheduler.mosaic.enabled
    ? new MosaicDispatcher({
        cfg: deps.config.scheduler.mosaic,
        db: deps.state,
        clock: deps.clock,
        log: ctx.log.child({ component: 'mosaic-dispatch' }),
        registry: deps.registry,
        signal,
        hooks: { baseEnv: ctx.env },
      }).run()
    : Promise.resolve();
  await Promise.all([sched.done(), mosaic]);
};
