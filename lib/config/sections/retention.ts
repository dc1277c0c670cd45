// Config section `retention` (shared): how long each history table keeps its rows. The scheduler's daily
// retention job and `contimg retention run` prune older rows in small batches (lib/retention.ts). Every key
// is a number of days; 0 keeps the table forever.
import { z } from 'zod';

const days = (dflt: number) => z.number().min(0).max(3650).default(dflt);

export function retentionSection() {
  return z.strictObject({
    /** `events` rows (the WebSocket replay history). */
    eventsDays: days(30),
    /** Finished queue jobs (done, cancelled). */
    jobsDays: days(30),
    /** Dead queue jobs, kept longer so an operator can still redrive them. */
    deadJobsDays: days(90),
    /** Resolved alerts and every alert's history (`alert_events`). */
    alertHistoryDays: days(180),
    /** Scheduler runs (`job_runs`). */
    jobRunsDays: days(30),
    /** Health status transitions (`health_history`). */
    healthHistoryDays: days(14),
    /** Rows deleted per transaction: small, so no write holds the lock for long. */
    batchSize: z.number().int().min(1).max(100_000).default(500),
    /** Pause between batches (ms), leaving the write lock to the daemons. */
    batchPauseMs: z.number().int().min(0).max(10_000).default(10),
  });
}

export type RetentionConfig = z.output<ReturnType<typeof retentionSection>>;
