// The durable job queue (platform.md §7.4, §8.2): enqueue with a dedupe key (joins the caller's
// transaction), claim with a lease and a fencing token, heartbeat, retry with jittered backoff, dead +
// redrive, rerun with a parent link, a per-job AbortSignal timeout, and a worker loop. See docs/database.md.
export {
  assertJobLease,
  describeError,
  enqueue,
  onQueueChange,
  SqliteQueueStore,
  type QueueStoreOptions,
} from './store.js';
export { JobTimeoutError, runWorker, Worker, type WorkerOptions, type WorkerSummary } from './worker.js';
export { queueMetrics, type QueueMetrics } from './metrics.js';
export { rerunRunId, utcStamp } from './run-id.js';
export * from './types.js';
