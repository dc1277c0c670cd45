// Against the real daemon process: SIGKILL mid-conversion, SIGKILL between the
// dispatch commit and spawn, SIGTERM drain, and the daemon dying around a converter's end or while a write
// waits on a lock another process holds. Never two converters for one group; a finished conversion is
// never run again.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holdWriteLock, type HeldLock } from '../../helpers/lock.js';
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
  type FakeLine,
} from './harness.js';
import { MAIN, pidAlive, spawnDaemon, type DaemonProc } from './proc.js';

let env: Env;
let lock: HeldLock | undefined;
const procs: DaemonProc[] = [];
afterEach(async () => {
  await lock?.release();
  lock = undefined;
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

function outcomes(): string[] {
  return query<{ outcome: string | null }>(env, 'SELECT outcome FROM converter_attempts ORDER BY id').map(
    (r) => r.outcome ?? 'open',
  );
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
  it('SIGKILL mid-conversion: the running converter is adopted after the restart, never a second one', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('ok', 4000), timeoutS: 120 } });
    const a = await start();
    writeGroupFiles(env.incoming, T0);
    const first = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter started',
    });
    a.child.kill('SIGKILL');
    await a.exited;
    expect(pidAlive(first.pid)).toBe(true); // the converter is in its own process group: it survived
    await start();
    await waitFor(() => groups(env)[0]?.state === 'converted', {
      what: 'converted after restart',
      timeoutMs: 30_000,
    });
    const lines = fakeLog(env);
    expect(lines.filter((l) => l.event === 'start')).toHaveLength(1);
    expect(lines.filter((l) => l.event === 'sigterm' || l.event === 'overlap')).toHaveLength(0);
    assertNoOverlap(lines);
    expect(outcomes()).toEqual(['ok']);
    expect(events(env, 'converter.attempt_adopted')).toHaveLength(1);
    expect(events(env, 'converter.attempt_crashed')).toHaveLength(0);
    // One job, one claim: the adopted run settled under the lease token it was dispatched with.
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
  });

  it('a converter that succeeds while the daemon is down: its result is adopted at restart, not converted again', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('ok', 2500), timeoutS: 120 } });
    const a = await start();
    writeGroupFiles(env.incoming, T0);
    const run = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter started',
    });
    a.child.kill('SIGKILL');
    await a.exited;
    await waitFor(() => !pidAlive(run.pid) && fakeLog(env).some((l) => l.event === 'end'), {
      what: 'converter finished while the daemon was down',
    });
    await start();
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(outcomes()).toEqual(['ok']);
    const [attempt] = query<{ exit_code: number; stdout_tail: string | null }>(
      env,
      'SELECT exit_code, stdout_tail FROM converter_attempts',
    );
    expect(attempt.exit_code).toBe(0);
    expect(events(env, 'converter.converted')).toHaveLength(1);
    expect(events(env, 'converter.attempt_adopted')).toHaveLength(1);
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
  });

  it('a converter that fails validation while the daemon is down: that failure is adopted (not retried), with its alert', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('exit5', 2500), timeoutS: 120 } });
    const a = await start();
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'converter started' });
    a.child.kill('SIGKILL');
    await a.exited;
    await waitFor(() => fakeLog(env).some((l) => l.event === 'end'), { what: 'converter failed' });
    await start();
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(outcomes()).toEqual(['validation']);
    expect(groups(env)[0].error).toContain('fake validation error');
    expect(events(env, 'converter.failed')).toHaveLength(1);
    expect(query(env, "SELECT 1 FROM alerts WHERE alertname = 'ConverterGroupFailed'")).toHaveLength(1);
  });

  it('the converter ends while its outcome write waits on a lock and the daemon dies: recovery settles that outcome', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('ok', 1500), timeoutS: 120 } });
    const a = await start();
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => query<{ pid: number | null }>(env, 'SELECT pid FROM converter_attempts')[0]?.pid, {
      what: 'converter running with its pid recorded',
    });
    lock = await holdWriteLock(env.statePath);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'end'), { what: 'converter finished' });
    a.child.kill('SIGKILL');
    await a.exited;
    expect(outcomes()).toEqual(['open']);
    await lock.release();
    await start();
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(outcomes()).toEqual(['ok']);
  });

  it('the daemon dies after starting the converter while the pid write waits on a lock: recovery finds and adopts it', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('ok', 3000), timeoutS: 120 } });
    const gate = path.join(env.dir, 'dispatch.gate');
    const a = await start({ CONTIMG_CONVERTER_FAULT: `pause-after-dispatch-commit:${gate}` });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => fs.existsSync(gate), { what: 'dispatch committed, converter not started yet' });
    lock = await holdWriteLock(env.statePath);
    fs.rmSync(gate);
    const run = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter started',
    });
    // Reads go on under the lock: the attempt is open and has no pid.
    expect(query(env, 'SELECT pid FROM converter_attempts')).toEqual([{ pid: null }]);
    a.child.kill('SIGKILL');
    await a.exited;
    await lock.release();
    expect(pidAlive(run.pid)).toBe(true);
    await start();
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    const lines = fakeLog(env);
    expect(lines.filter((l) => l.event === 'start')).toHaveLength(1);
    expect(lines.filter((l) => l.event === 'overlap')).toHaveLength(0);
    assertNoOverlap(lines);
    expect(outcomes()).toEqual(['ok']);
  });

  it('SIGKILL between the dispatch commit and spawn: exactly one spawn in total', async () => {
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

  it('SIGTERM during a conversion: waits killGraceS, stops the group, exits 0; the next start converts', async () => {
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
