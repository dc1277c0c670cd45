import { describe, expect, it } from 'vitest';
import { rerunRunId, utcStamp } from '../../../lib/queue/run-id.js';

const t = Date.UTC(2025, 0, 2, 3, 4, 5);

describe('rerunRunId', () => {
  it('formats the UTC stamp as YYYYMMDD_HHMMSS', () => {
    expect(utcStamp(t)).toBe('20250102_030405');
    expect(utcStamp(Date.UTC(2025, 11, 31, 23, 59, 59))).toBe('20251231_235959');
  });
  it.each([
    [{ id: 1, runId: 'obs_2025-01-01' }, 'obs_2025-01-01_rerun_20250102_030405'],
    [{ id: 1, runId: 'obs_x_rerun_20241231_000000' }, 'obs_x_rerun_20250102_030405'],
    [{ id: 42, runId: null }, 'job_42_rerun_20250102_030405'],
  ])('%o → %s', (original, expected) => {
    expect(rerunRunId(original, t)).toBe(expected);
  });
});
