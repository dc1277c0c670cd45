// contimg_queue_* series, declared once per registry (once() lets a store and a worker, or two workers,
// share them) and initialised for the known queues so dashboards see zeros, not gaps.
import { Counter, Gauge, Histogram, once, type Registry } from '../metrics.js';
import { JOB_OUTCOMES, JOB_STATES } from './types.js';

export interface QueueMetrics {
  jobs: Gauge<'queue' | 'state'>;
  oldestAgeSeconds: Gauge<'queue'>;
  claims: Counter<'queue'>;
  outcomes: Counter<'queue' | 'outcome'>;
  jobDurationSeconds: Histogram<'queue' | 'kind'>;
  leaseLost: Counter<string>;
  workerErrors: Counter<'queue'>;
}

function declare(registry: Registry): QueueMetrics {
  const registers = [registry];
  return {
    jobs: once(
      registry,
      'contimg_queue_jobs',
      () =>
        new Gauge({
          name: 'contimg_queue_jobs',
          help: 'Jobs in the queue table by state (refreshed by workers every few seconds).',
          labelNames: ['queue', 'state'],
          registers,
        }),
    ),
    oldestAgeSeconds: once(
      registry,
      'contimg_queue_oldest_age_seconds',
      () =>
        new Gauge({
          name: 'contimg_queue_oldest_age_seconds',
          help: 'How long the oldest due, unclaimed job has been waiting.',
          labelNames: ['queue'],
          registers,
        }),
    ),
    claims: once(
      registry,
      'contimg_queue_claims_total',
      () =>
        new Counter({
          name: 'contimg_queue_claims_total',
          help: 'Jobs claimed (each claim is one attempt).',
          labelNames: ['queue'],
          registers,
        }),
    ),
    outcomes: once(
      registry,
      'contimg_queue_outcomes_total',
      () =>
        new Counter({
          name: 'contimg_queue_outcomes_total',
          help: 'How attempts ended: done, retry (rescheduled), dead, released (shutdown), cancelled.',
          labelNames: ['queue', 'outcome'],
          registers,
        }),
    ),
    jobDurationSeconds: once(
      registry,
      'contimg_queue_job_duration_seconds',
      () =>
        new Histogram({
          name: 'contimg_queue_job_duration_seconds',
          help: 'Handler run time per attempt.',
          labelNames: ['queue', 'kind'],
          buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
          registers,
        }),
    ),
    leaseLost: once(
      registry,
      'contimg_queue_lease_lost_total',
      () =>
        new Counter({
          name: 'contimg_queue_lease_lost_total',
          help: 'Operations refused because the job lease (fencing token) was no longer ours.',
          registers,
        }),
    ),
    workerErrors: once(
      registry,
      'contimg_queue_worker_errors_total',
      () =>
        new Counter({
          name: 'contimg_queue_worker_errors_total',
          help: 'Errors caught in a worker loop (claim or bookkeeping failed); the loop backs off and continues.',
          labelNames: ['queue'],
          registers,
        }),
    ),
  };
}

export function queueMetrics(
  registry: Registry,
  queues: readonly string[] = [],
  kinds: readonly string[] = [],
): QueueMetrics {
  const shared = declare(registry);
  shared.leaseLost.inc(0);
  for (const queue of queues) {
    shared.claims.inc({ queue }, 0);
    shared.workerErrors.inc({ queue }, 0);
    shared.oldestAgeSeconds.set({ queue }, 0);
    for (const state of JOB_STATES) shared.jobs.set({ queue, state }, 0);
    for (const outcome of JOB_OUTCOMES) shared.outcomes.inc({ queue, outcome }, 0);
    for (const kind of kinds) shared.jobDurationSeconds.zero({ queue, kind });
  }
  return shared;
}
