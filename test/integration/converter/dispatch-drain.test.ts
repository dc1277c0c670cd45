// The dispatcher's drain at shutdown, through the daemon's own stop(): a running converter gets killGraceS to
// finish, then it is stopped and its attempt given back uncounted; the daemon's drain deadline (its hard stop)
// cuts that grace short. Each test fails when the dispatcher's drain settings or its hard-stop wiring change.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { DbIoError } from '../../../lib/errors.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  conversionJobs,
  events,
  fakeArgv,
  fakeLog,
  groups,
  makeEnv,
  query,
  T0,
  writeGroupFiles,
  type Env,
} from './harness.js';
import { pidAlive } from './proc.js';
import { trackDaemons } from './track.js';

let env: Env;
const { start } = trackDaemons(() => env, { kill: 'group' });

/** The same environment with the daemon's drain deadline (timeouts.drainMs) set. */
function withDrainMs(e: Env, drainMs: number): Env {
  const raw = { ...e.raw, timeouts: { drainMs } };
  return { ...e, raw, config: parseConfig(raw, e.dir) };
}

/** Start a daemon, give it one group and wait until its converter runs. */
async function converting(e: Env): Promise<{ d: RunningDaemon; pid: number }> {
  const d = await start(e);
  writeGroupFiles(e.incoming, T0);
  const run = await waitFor(() => fakeLog(e).find((l) => l.event === 'start'), { what: 'converter started' });
  return { d, pid: run.pid };
}

describe('converter dispatch: the drain at shutdown', () => {
  it('a stop waits killGraceS for the running converter, then stops it; the attempt is given back uncounted', async () => {
    env = await makeEnv({ killGraceS: 1.5, converter: { argv: fakeArgv('ok', 60_000), timeoutS: 120 } });
    const { d, pid } = await converting(env);
    await waitFor(() => groups(env)[0]?.attempts === 1, { what: 'attempt counted' });
    const metrics = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
    expect(metrics).toMatch(/^contimg_converter_conversions_in_flight 1$/m);
    const t0 = Date.now();
    expect(await d.stop()).toBe('drained');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(15_000);
    expect(pidAlive(pid)).toBe(false);
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start', 'sigterm']);
    // Shutdown is not the converter's fault: the group waits to run again at once, its attempt not counted.
    const [g] = groups(env);
    expect(g).toMatchObject({ state: 'retry_wait', attempts: 0, job_state: 'queued' });
    expect(query(env, 'SELECT attempt, outcome FROM converter_attempts')).toEqual([
      { attempt: 1, outcome: 'aborted' },
    ]);
    expect(conversionJobs(env)).toMatchObject([{ state: 'queued', attempts: 0 }]);
    expect(events(env, 'converter.attempt_aborted')).toHaveLength(1);
  });

  it('a converter that ends within killGraceS is settled as converted at the stop, not stopped', async () => {
    env = await makeEnv({ killGraceS: 20, converter: { argv: fakeArgv('ok', 2500), timeoutS: 120 } });
    const { d } = await converting(env);
    expect(await d.stop()).toBe('drained');
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start', 'end']);
    expect(groups(env)[0]).toMatchObject({ state: 'converted', attempts: 1 });
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
  });

  it("the daemon's drain deadline cuts killGraceS short: the converter is stopped at once and the stop is not stuck", async () => {
    env = withDrainMs(
      await makeEnv({ killGraceS: 30, converter: { argv: fakeArgv('ok', 60_000), timeoutS: 120 } }),
      500,
    );
    const { d, pid } = await converting(env);
    const t0 = Date.now();
    expect(await d.stop()).toBe('aborted');
    expect(Date.now() - t0).toBeLessThan(10_000);
    await waitFor(() => !pidAlive(pid), { what: 'converter stopped' });
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start', 'sigterm']);
  });
  it('a fatal database error during a conversion stops the converter at once, without waiting killGraceS', async () => {
    env = await makeEnv({ killGraceS: 30, converter: { argv: fakeArgv('ok', 60_000), timeoutS: 120 } });
    const { d, pid } = await converting(env);
    await waitFor(() => groups(env)[0]?.attempts === 1, { what: 'attempt counted' });
    // The state database fills up (SQLITE_FULL, a fatal I/O error): the next insert, the new group's files,
    // ends the daemon's loops.
    const conn = d.deps.state.conn;
    conn.pragma(`max_page_count = ${(conn.pragma('page_count', { simple: true }) as number) + 2}`);
    const fill = conn.prepare(
      "INSERT INTO events (topic, type, payload, created_at) VALUES ('test', 'filler', '{}', 0)",
    );
    expect(() => {
      for (;;) fill.run();
    }).toThrow(/full/i);
    const t0 = Date.now();
    writeGroupFiles(env.incoming, T0 + 309_000);
    await expect(d.done).rejects.toBeInstanceOf(DbIoError);
    // The drain's hard stop is the fatal error itself: the converter is stopped at once, not after 30 s.
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(pidAlive(pid)).toBe(false);
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start', 'sigterm']);
  });
});
