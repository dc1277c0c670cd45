// The durable job queue (docs/database.md, "The job queue"): enqueue with a dedupe key (joins the caller's
// transaction), typed job kinds (payload checked at enqueue and claim), claim with a lease and a fencing
// token, heartbeat, retry with jittered backoff, dead + redrive, rerun with a parent link, a per-job
// AbortSignal timeout, and the one worker, whose hooks run a daemon's own writes inside the queue's
// transactions.
export { enqueue, onQueueChange, SqliteQueueStore, type QueueStoreOptions } from './store.js';
export { UNFINISHED } from './sql.js';
export { assertJobLease, BURIED_ERROR, cancelQueuedIn, describeError, jobIn } from './ops.js';
export { defineJob, type JobType } from './job-type.js';
export { JobTimeoutError, runWorker, Worker, type WorkerOptions, type WorkerSummary } from './worker.js';
export { queueMetrics, type QueueMetrics } from './metrics.js';
export { rerunRunId, utcStamp } from './run-id.js';
export * from './types.js';
