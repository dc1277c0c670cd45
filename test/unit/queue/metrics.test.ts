import { describe, expect, it } from 'vitest';
import { createRegistry } from '../../../lib/metrics.js';
import { describeError, queueMetrics } from '../../../lib/queue/index.js';
import { PermanentError } from '../../../lib/errors.js';

describe('queueMetrics', () => {
  it('declares each series once per registry, shared by every caller, zeroed for known labels', async () => {
    const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
    const a = queueMetrics(registry, ['convert']);
    const b = queueMetrics(registry, ['thumbnails'], ['render']);
    expect(b.claims).toBe(a.claims);
    expect(b.outcomes).toBe(a.outcomes);
    const text = await registry.metrics();
    for (const line of [
      'contimg_queue_jobs{queue="convert",state="queued"} 0',
      'contimg_queue_jobs{queue="thumbnails",state="dead"} 0',
      'contimg_queue_oldest_age_seconds{queue="convert"} 0',
      'contimg_queue_claims_total{queue="thumbnails"} 0',
      'contimg_queue_outcomes_total{queue="convert",outcome="retry"} 0',
      'contimg_queue_job_duration_seconds_count{queue="thumbnails",kind="render"} 0',
      'contimg_queue_lease_lost_total 0',
      'contimg_queue_worker_errors_total{queue="convert"} 0',
    ])
      expect(text).toContain(line);
  });
});

describe('describeError', () => {
  it('keeps name, code and message, never the stack, and truncates', () => {
    expect(describeError(new PermanentError('bad file'))).toBe('PermanentError [PERMANENT]: bad file');
    expect(describeError('plain string')).toBe('Error: plain string');
    const long = describeError(new Error('x'.repeat(5000)));
    expect(long.length).toBe(2000);
    expect(long).not.toContain('    at ');
  });
});
