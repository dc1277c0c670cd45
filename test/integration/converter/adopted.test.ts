// An attempt recovery adopts after a restart (its converter still running under its supervisor) is one of
// the dispatcher's own: it holds one of maxConcurrent slots until it ends, and a SIGTERM drains it: killGraceS,
// then it is stopped and settled.
import { afterEach, describe, expect, it } from 'vitest';
import { removeTmpDir } from '../../helpers/tmp.js';
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
import { pidAlive, spawnDaemon, type DaemonProc } from './proc.js';

const SPACING_MS = 309_000;

let env: Env;
const procs: DaemonProc[] = [];
afterEach(() => {
  for (const p of procs.splice(0))
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const l of fakeLog(env).filter((x) => x.event === 'start'))
    if (pidAlive(l.pid)) process.kill(-l.pid, 'SIGKILL');
  removeTmpDir(env.dir);
});

async function start(): Promise<DaemonProc> {
  const p = await spawnDaemon(env);
  procs.push(p);
  return p;
}

/** SIGKILL the daemon once its first converter runs; the converter (own process group) survives. */
async function killMidConversion(): Promise<{ pid: number; group: string }> {
  const a = await start();
  writeGroupFiles(env.incoming, T0);
  const run = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
    what: 'converter started',
  });
  a.child.kill('SIGKILL');
  await a.exited;
  expect(pidAlive(run.pid)).toBe(true);
  return run;
}

describe('adopted attempts', () => {
  it('an adopted converter holds a maxConcurrent slot: the next group starts only after it ends', async () => {
    env = await makeEnv({ maxConcurrent: 1, converter: { argv: fakeArgv('ok', 5000), timeoutS: 120 } });
    const first = await killMidConversion();
    writeGroupFiles(env.incoming, T0 + SPACING_MS);
    await start();
    await waitFor(() => groups(env).length === 2 && groups(env).every((g) => g.state === 'converted'), {
      what: 'both groups converted',
      timeoutMs: 60_000,
    });
    expect(events(env, 'converter.attempt_adopted')).toHaveLength(1);
    const lines = fakeLog(env);
    const starts = lines.filter((l) => l.event === 'start');
    expect(starts).toHaveLength(2);
    const firstEnd = lines.find((l) => l.event === 'end' && l.pid === first.pid);
    const second = starts.find((l) => l.group !== first.group)!;
    expect(firstEnd).toBeDefined();
    expect(second.t).toBeGreaterThanOrEqual(firstEnd!.t);
    expect(conversionJobs(env)).toMatchObject([
      { state: 'done', attempts: 1 },
      { state: 'done', attempts: 1 },
    ]);
  });

  it('SIGTERM drains an adopted converter: killGraceS, then stopped; the attempt is retried at once', async () => {
    env = await makeEnv({ killGraceS: 1, converter: { argv: fakeArgv('hang'), timeoutS: 120 } });
    const first = await killMidConversion();
    const b = await start();
    await waitFor(() => events(env, 'converter.attempt_adopted').length === 1, { what: 'adopted' });
    const t0 = Date.now();
    b.child.kill('SIGTERM');
    const exit = await b.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(pidAlive(first.pid)).toBe(false);
    // Its supervisor is stopped with it and records no exit status: the attempt counts as a crash that was
    // not the converter's fault, due again at once (a conversion this daemon started itself is released).
    const g = groups(env)[0];
    expect(g.state).toBe('retry_wait');
    expect(g.error).toBe('supervisor died without recording the end');
    expect(g.next_attempt_at).not.toBeNull();
    expect(query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts')).toEqual([
      { outcome: 'crashed' },
    ]);
    expect(conversionJobs(env)).toMatchObject([{ state: 'queued', attempts: 1 }]);
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
  });
});
