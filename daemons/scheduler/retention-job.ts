// The daily retention job: the shared retention task (lib/retention.ts, also `contimg retention run`) on the
// scheduler's cron, under the job's deadline.
import { runRetention } from '../../lib/retention.js';
import type { JobFn } from './context.js';

export const retentionJob: JobFn = async (ctx, signal) => {
  const r = await runRetention({
    db: ctx.state,
    config: ctx.config.retention,
    clock: ctx.clock,
    log: ctx.log.child({ component: 'retention' }),
    signal,
    metrics: ctx.metrics.retention,
    owner: ctx.owner,
  });
  return { result: 'ok', summary: r };
};
