// The scheduler's JSON API: health targets, jobs, the validity and flux reports computed now, a way to run
// a job at once (the daemon's HTTP token, required off loopback, guards it like every route), and the mosaic
// plans (mosaic/plan-api.ts).
import type { HttpRoutes } from '../../lib/daemon/types.js';
import { InvalidStateError, NotFoundError } from '../../lib/errors.js';
import { healthReport, jobsReport } from './admin.js';
import type { SchedulerContext } from './context.js';
import { fluxReport } from './flux/job.js';
import { registerMosaicRoutes } from './mosaic/plan-api.js';
import { isJobName, type JobRunner } from './runner.js';
import type { Scheduler } from './scheduler.js';
import { validityReport } from './validity/job.js';

export function registerRoutes(
  http: HttpRoutes,
  ctx: SchedulerContext,
  runner: JobRunner,
  sched: Scheduler,
): void {
  http.route('GET', '/api/health', () => ctx.state.read(healthReport));
  http.route('GET', '/api/jobs', () => ({
    leader: sched.leaderToken !== null,
    jobs: ctx.state
      .read((c) => jobsReport(c, ctx.config, ctx.clock.now()))
      .map((j) => ({
        ...j,
        runningHere: runner.running(j.job) !== undefined,
      })),
  }));
  http.route('GET', '/api/validity', () => validityReport(ctx));
  http.route('GET', '/api/flux', () => fluxReport(ctx));
  http.route('POST', '/api/jobs/:job/run', async (req) => {
    const job = req.params.job;
    if (!isJobName(job)) throw new NotFoundError(`no job named ${job}`, { job });
    const out = await runner.run({ job, trigger: 'manual', scheduledFor: null });
    if (out.result === 'skipped_overlap')
      throw new InvalidStateError(`the ${job} job is already running`, { job, runId: out.runId });
    return out;
  });
  registerMosaicRoutes(http, ctx);
}
