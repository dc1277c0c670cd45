import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { waitFor } from '../../helpers/wait.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import {
  conversionJobs,
  events,
  query,
  fakeLog,
  groups,
  makeEnv,
  startInProcess,
  T0,
  writeGroupFiles,
  type Env,
} from './harness.js';

let env: Env;
let d: RunningDaemon | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
  removeTmpDir(env.dir);
});

describe('streaming converter, in process', () => {
  it('§9.8-1 happy path: 16 jittered files → one group, one spawn, manifest in subband order, converted', async () => {
    env = await makeEnv();
    d = await startInProcess(env);
    writeGroupFiles(env.incoming, T0, { jitter: (sb) => sb % 3 });
    const [g] = await waitFor(
      () => groups(env).filter((x) => x.state === 'converted').length === 1 && groups(env),
      { what: 'converted' },
    );
    expect(groups(env)).toHaveLength(1);
    expect(g.group_id).toBe('2025-06-01T12:00:00');
    expect(g.attempts).toBe(1);
    expect(fs.existsSync(g.output_path!)).toBe(true);
    // Dispatch ran as one conversions job (dedupe key = group id); the attempt row is keyed to its claim.
    const jobs = conversionJobs(env);
    expect(jobs).toMatchObject([{ state: 'done', attempts: 1, dedupe_key: '2025-06-01T12:00:00' }]);
    expect(
      query<{ job_id: number; lease_token: number }>(
        env,
        'SELECT job_id, lease_token FROM converter_attempts',
      ),
    ).toEqual([{ job_id: jobs[0].id, lease_token: jobs[0].lease_token }]);
    const starts = fakeLog(env).filter((l) => l.event === 'start');
    expect(starts).toHaveLength(1);
    expect(starts[0].subbands).toEqual([...Array(16).keys()]);
    expect(events(env).map((e) => e.type)).toEqual(
      expect.arrayContaining(['converter.group_ready', 'converter.dispatched', 'converter.converted']),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
    expect(metrics).toMatch(/contimg_converter_conversion_attempts_total\{outcome="ok"\} 1/);
    expect(metrics).toMatch(/contimg_converter_files_total\{result="valid",reason=""\} 16/);
  });
});
