// Adopting a converter that still runs while another process holds the state database's write lock (an
// operator's sqlite3 shell): the adoption's lease renewal waits for the lock as long as it takes, not the
// write budget; if the job was claimed by someone else meanwhile, the renewal is refused and the converter is
// stopped instead of adopted; a shutdown while it waits leaves the converter running for the next start.
// The lock is held by a real sqlite3 process; /readyz says when a write of the daemon is waiting for it.
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { holdWriteLock, type HeldLock } from '../../helpers/lock.js';
import { waitFor } from '../../helpers/wait.js';
import { conversionJobs, events, fakeLog, groups, makeEnv, type Env } from './harness.js';
import { diedAfterDispatch, openAttempt, spawnSupervised, type OpenAttemptRow } from './orphans.js';
import { pidAlive } from './proc.js';
import { trackDaemons } from './track.js';

let env: Env;
let lock: HeldLock | undefined;
const { daemons, strays, startLogged } = trackDaemons(() => env, { kill: 'group-or-pid' });
// After trackDaemons, so it runs before its clean-up (afterEach hooks run last registered first).
afterEach(async () => {
  await lock?.release();
  lock = undefined;
});

/** The same environment with the state database's write budget and stall report set (milliseconds). */
function withDbTimes(e: Env, writeBudgetMs: number, writeStallMs: number): Env {
  const raw = {
    ...e.raw,
    databases: { ...(e.raw.databases as Record<string, unknown>), writeBudgetMs, writeStallMs },
  };
  return { ...e, raw, config: parseConfig(raw, e.dir) };
}

/** A dead daemon's attempt whose converter still runs under its supervisor. */
async function orphanRunning(e: Env, delayMs: number): Promise<OpenAttemptRow> {
  const a = await diedAfterDispatch(e);
  strays.push(spawnSupervised(e, a, 'ok', delayMs));
  await waitFor(() => fakeLog(e).some((l) => l.event === 'start'), { what: 'orphaned converter running' });
  return a;
}

async function logged(e: Env): Promise<{ d: RunningDaemon; lines: Record<string, unknown>[] }> {
  const { daemon, lines } = await startLogged(e, { level: 'info' });
  return { d: daemon, lines };
}

/** /readyz's reason while one write of the daemon waits for the lock and none has got it for writeStallMs. */
async function oneWriteWaiting(d: RunningDaemon, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${d.port}/readyz`)).text();
      return /write lock stalled: .*\(1 waiting/.test(text) ? text : null;
    },
    { what: 'a write waiting for the lock', timeoutMs },
  );
}

/** A series of /metrics, or null when it is not there. */
async function metric(d: RunningDaemon, series: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

const msgs = (lines: Record<string, unknown>[], msg: string): Record<string, unknown>[] =>
  lines.filter((l) => l.msg === msg);

const ADOPTED = 'adopted a converter still running from a previous run';
const STOPPING = 'orphaned converter from a previous run: stopping it';

describe('converter dispatch: adopting while the write lock is held elsewhere', () => {
  it('the adoption waits for the lock beyond the write budget, then adopts the running converter', async () => {
    // The budget a write without its own would give up after: 1 s; the lock is held for 3 s and more.
    env = withDbTimes(await makeEnv({ leaseS: 30 }), 1000, 3000);
    await orphanRunning(env, 6000);
    lock = await holdWriteLock(env.statePath);
    const { d, lines } = await logged(env);
    // Startup recovery's adoption is the one write waiting, three times the budget after it began.
    await oneWriteWaiting(d);
    await lock.release();
    lock = undefined;
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(msgs(lines, ADOPTED)).toHaveLength(1);
    expect(events(env, 'converter.attempt_adopted').map((e) => JSON.parse(e.payload) as unknown)).toEqual([
      expect.objectContaining({ attempt: 1, running: true }),
    ]);
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start', 'end']);
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
  });

  it('a job claimed elsewhere while the adoption waits for the lock: the renewal is refused and the converter stopped, not adopted', async () => {
    env = withDbTimes(await makeEnv({ leaseS: 30 }), 60_000, 300);
    const a = await orphanRunning(env, 60_000);
    const [orphan] = fakeLog(env);
    lock = await holdWriteLock(env.statePath);
    const { d, lines } = await logged(env);
    await oneWriteWaiting(d);
    // Recovery read the attempt and its lease before the lock was free; now another daemon claims the job
    // (a new lease token) in the transaction holding the lock, and commits.
    const held = lock;
    lock = undefined;
    const exited = new Promise<void>((resolve) => held.child.once('close', () => resolve()));
    held.child.stdin!.end(
      `UPDATE jobs SET lease_token = lease_token + 1, lease_owner = 'elsewhere:1:converter:peer00',
         lease_expires_at = ${Date.now() + 600_000} WHERE id = ${a.job_id};
       COMMIT;
       .quit
      `,
    );
    await exited;
    await waitFor(() => !pidAlive(orphan.pid), { what: 'orphaned converter stopped' });
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start', 'sigterm']);
    expect(msgs(lines, STOPPING)).toHaveLength(1);
    expect(msgs(lines, ADOPTED)).toHaveLength(0);
    expect(events(env, 'converter.attempt_adopted')).toHaveLength(0);
    // The daemon runs on: startup recovery did not fail, and the other daemon's claim stands.
    await waitFor(async () => (await fetch(`http://127.0.0.1:${d.port}/readyz`)).status === 200, {
      what: 'daemon ready',
    });
    expect(await metric(d, 'contimg_converter_recovered_attempts_total{child="killed"}')).toBe(1);
    expect(await metric(d, 'contimg_converter_recovered_attempts_total{child="adopted"}')).toBe(0);
    expect(conversionJobs(env)).toMatchObject([{ state: 'running', lease_token: a.lease_token + 1 }]);
  });

  it('a shutdown while the adoption waits for the lock leaves the converter running; the next start adopts it', async () => {
    env = withDbTimes(await makeEnv({ leaseS: 30 }), 60_000, 300);
    await orphanRunning(env, 5000);
    const [orphan] = fakeLog(env);
    lock = await holdWriteLock(env.statePath);
    const { d } = await logged(env);
    await oneWriteWaiting(d);
    await d.stop();
    daemons.splice(0);
    expect(pidAlive(orphan.pid)).toBe(true);
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start']);
    expect(openAttempt(env)).toMatchObject({ attempt: 1 });
    await lock.release();
    lock = undefined;
    const { lines } = await logged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(msgs(lines, ADOPTED)).toHaveLength(1);
    expect(fakeLog(env).map((l) => l.event)).toEqual(['start', 'end']);
  });
});
