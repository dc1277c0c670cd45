import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configScrubber } from '../../../lib/config/index.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  conversionJobs,
  events,
  fakeArgv,
  query,
  fakeLog,
  groups,
  makeEnv,
  T0,
  writeGroupFiles,
  type Env,
} from './harness.js';
import { trackDaemons } from './track.js';

let env: Env;
let d: RunningDaemon | undefined;
const tracker = trackDaemons(() => env);

describe('streaming converter, in process', () => {
  it('happy path: 16 jittered files → one group, one spawn, manifest in subband order, converted', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
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

// A secret in the converter's argv or env never reaches the daemon's log: the "converter started" line shows
// the argv with secret flag values and URL credentials masked, and nothing else in the output quotes them.
const SECRET = 'Cv-S3cret-4e1f';

describe('secrets in the converter command', () => {
  it('logs "converter started" with the argv masked and never prints a converter secret', async () => {
    const argv = [
      ...fakeArgv('ok'),
      '--password',
      `${SECRET}-pw`,
      `--token=${SECRET}-tok`,
      '--api-key',
      `${SECRET}-key`,
      `https://ops:${SECRET}-url@archive.example/x?sig=${SECRET}-sig`,
    ];
    env = await makeEnv({
      converter: { argv, timeoutS: 20, env: { API_KEY: `${SECRET}-env`, DB_PASSWD: `${SECRET}-db` } },
    });
    const started = await tracker.startLogged(env, { level: 'debug', scrubber: configScrubber(env.config) });
    d = started.daemon;
    const { lines } = started;
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env).some((g) => g.state === 'converted'), { what: 'converted' });
    // The converter ran with that command line (masking is for output only).
    expect(fs.readFileSync(env.log, 'utf8')).toContain('"event":"end"');
    const line = lines.find((l) => l.msg === 'converter started') as { argv?: string[] } | undefined;
    expect(line?.argv?.slice(-6)).toEqual([
      '--password',
      '[redacted]',
      '--token=[redacted]',
      '--api-key',
      '[redacted]',
      'https://[redacted]@archive.example/x?sig=[redacted]',
    ]);
    expect(line?.argv?.slice(0, 3)).toEqual(fakeArgv('ok').slice(0, 3));
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });
});
