// §9.8 tests 5, 6 and 15 against the real daemon process: SIGKILL mid-conversion, SIGKILL between the
// dispatch commit and spawn, SIGTERM drain. Never two converters for one group; exactly one more spawn.
import { afterEach, describe, expect, it } from 'vitest';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import {
  conversionJobs,
  fakeArgv,
  fakeLog,
  groups,
  makeEnv,
  query,
  T0,
  writeGroupFiles,
  type Env,
  type FakeLine,
} from './harness.js';
import { MAIN, pidAlive, spawnDaemon, type DaemonProc } from './proc.js';

let env: Env;
const procs: DaemonProc[] = [];
afterEach(async () => {
  for (const p of procs.splice(0))
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const l of fakeLog(env).filter((x) => x.event === 'start'))
    if (pidAlive(l.pid)) process.kill(-l.pid, 'SIGKILL');
  removeTmpDir(env.dir);
});

async function start(extra: Record<string, string> = {}): Promise<DaemonProc> {
  const p = await spawnDaemon(env, extra);
  procs.push(p);
  return p;
}

/** Intervals [start, end or death] of every converter run per group must not overlap. */
function assertNoOverlap(lines: FakeLine[]): void {
  const runs = new Map<number, { group: string; start: number; end: number }>();
  for (const l of lines) {
    if (l.event === 'start') runs.set(l.pid, { group: l.group, start: l.t, end: Infinity });
    else if (runs.has(l.pid)) runs.get(l.pid)!.end = l.t;
  }
  const list = [...runs.values()].sort((a, b) => a.start - b.start);
  for (let i = 1; i < list.length; i++)
    if (list[i].group === list[i - 1].group) expect(list[i].start).toBeGreaterThanOrEqual(list[i - 1].end);
}

describe(`streaming converter process (${MAIN})`, () => {
  it('§9.8-5 SIGKILL mid-conversion: orphan killed, attempt crashed, exactly one more spawn, never two at once', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('ok', 60_000), timeoutS: 120 } });
    const a = await start();
    writeGroupFiles(env.incoming, T0);
    const first = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter started',
    });
    a.child.kill('SIGKILL');
    await a.exited;
    expect(pidAlive(first.pid)).toBe(true); // the converter is in its own process group: it survived
    (env.raw.streamingConverter as Record<string, unknown>).converter = {
      argv: fakeArgv('ok', 500),
      timeoutS: 120,
    };
    await start();
    await waitFor(() => groups(env)[0]?.state === 'converted', {
      what: 'converted after restart',
      timeoutMs: 30_000,
    });
    expect(pidAlive(first.pid)).toBe(false);
    const lines = fakeLog(env);
    expect(lines.filter((l) => l.event === 'start')).toHaveLength(2);
    expect(lines.find((l) => l.pid === first.pid && l.event === 'sigterm')).toBeDefined();
    assertNoOverlap(lines);
    const attempts = query<{ attempt: number; outcome: string }>(
      env,
      'SELECT attempt, outcome FROM converter_attempts ORDER BY attempt',
    );
    expect(attempts).toEqual([
      { attempt: 1, outcome: 'crashed' },
      { attempt: 2, outcome: 'ok' },
    ]);
    expect(query(env, "SELECT 1 FROM events WHERE type = 'converter.attempt_crashed'")).toHaveLength(1);
    // One job throughout: the crashed claim counted as attempt 1, the retry ran under a newer lease token.
    const [job, ...more] = conversionJobs(env);
    expect(more).toHaveLength(0);
    expect(job).toMatchObject({ state: 'done', attempts: 2 });
    const tokens = query<{ job_id: number; lease_token: number }>(
      env,
      'SELECT job_id, lease_token FROM converter_attempts ORDER BY attempt',
    );
    expect(tokens.map((t) => t.job_id)).toEqual([job.id, job.id]);
    expect(tokens[1].lease_token).toBeGreaterThan(tokens[0].lease_token);
  });

  it('§9.8-6 SIGKILL between the dispatch commit and spawn: exactly one spawn in total', async () => {
    env = await makeEnv();
    const a = await start({ CONTIMG_CONVERTER_FAULT: 'after-dispatch-commit' });
    writeGroupFiles(env.incoming, T0);
    const dead = await a.exited;
    expect(dead.signal).toBe('SIGKILL');
    expect(groups(env)[0].state).toBe('converting');
    expect(fakeLog(env)).toHaveLength(0);
    await start();
    await waitFor(() => groups(env)[0]?.state === 'converted', {
      what: 'converted after restart',
      timeoutMs: 30_000,
    });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(
      query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts ORDER BY attempt').map(
        (r) => r.outcome,
      ),
    ).toEqual(['crashed', 'ok']);
  });

  it('§9.8-15 SIGTERM during a conversion: waits killGraceS, stops the group, exits 0; the next start converts', async () => {
    env = await makeEnv({ killGraceS: 1, converter: { argv: fakeArgv('hang'), timeoutS: 120 } });
    const a = await start();
    writeGroupFiles(env.incoming, T0);
    const run = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter started',
    });
    a.child.kill('SIGTERM');
    const exit = await a.exited;
    expect(exit.code).toBe(0);
    expect(pidAlive(run.pid)).toBe(false);
    const g = groups(env)[0];
    expect(g.state).toBe('retry_wait');
    expect(g.attempts).toBe(0);
    expect(query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts')).toEqual([
      { outcome: 'aborted' },
    ]);
    // Shutdown released the job: queued again, due now, the interrupted run not counted.
    expect(conversionJobs(env)).toMatchObject([{ state: 'queued', attempts: 0 }]);
    (env.raw.streamingConverter as Record<string, unknown>).converter = {
      argv: fakeArgv('ok'),
      timeoutS: 120,
    };
    await start();
    await waitFor(() => groups(env)[0]?.state === 'converted', {
      what: 'converted after restart',
      timeoutMs: 30_000,
    });
  });
});
