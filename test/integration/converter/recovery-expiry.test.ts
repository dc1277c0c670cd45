// Recovery's second entry: a conversions job's lease that expires while the daemon runs. The claim gate sees
// it and the main loop recovers, but only the attempts whose lease has expired and that this daemon is not
// running itself: a peer within its lease keeps its attempt, and one of our own conversions whose lease looks
// expired (a late heartbeat) is never adopted or stopped by its own daemon.
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import {
  events,
  fakeArgv,
  fakeLog,
  groups,
  makeEnv,
  query,
  startInProcess,
  startLogged,
  T0,
  writeGroupFiles,
  type Env,
} from './harness.js';
import { spawnBystander, tamper } from './orphans.js';
import { pidAlive } from './proc.js';

let env: Env;
let d: RunningDaemon | undefined;
const strays: number[] = [];

afterEach(async () => {
  await d?.stop();
  d = undefined;
  for (const pid of [...strays.splice(0), ...fakeLog(env).map((l) => l.pid)])
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  removeTmpDir(env.dir);
});

const T1 = T0 + 600_000;

interface Open {
  id: number;
  job_id: number;
  group_id: string;
}

function openAttempts(e: Env): Open[] {
  return query<Open>(
    e,
    `SELECT a.id, a.job_id, g.group_id FROM converter_attempts a JOIN converter_groups g ON g.id = a.group_ref
     WHERE a.ended_at IS NULL ORDER BY g.anchor_ms`,
  );
}

/** A daemon that dispatched two groups and stalled on both (no converter, no heartbeat), then stopped. */
async function twoStalledAttempts(e: Env): Promise<Open[]> {
  const stalled = await startInProcess(e, {
    afterDispatchCommit: () => {
      throw new Error('test: the dispatcher stalls after the commit');
    },
  });
  try {
    writeGroupFiles(e.incoming, T0);
    writeGroupFiles(e.incoming, T1);
    return await waitFor(() => (openAttempts(e).length === 2 ? openAttempts(e) : false), {
      what: 'two dispatched attempts',
    });
  } finally {
    await stalled.stop();
  }
}

/** Hand a job's lease to a live peer on this host (a process of its own) until `expiresAt`. */
function leaseToPeer(e: Env, jobId: number, peerPid: number, expiresAt: number): void {
  tamper(e, (db) =>
    db
      .prepare('UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE id = ?')
      .run(`${os.hostname()}:${peerPid}:converter:peer01`, expiresAt, jobId),
  );
}

describe('recovery when a lease expires while the daemon runs', () => {
  it("recovers the attempt whose lease expired, leaves a live peer's attempt within its lease, and logs it as lease expiry", async () => {
    env = await makeEnv({ leaseS: 2, maxConcurrent: 2 });
    const [first, second] = await twoStalledAttempts(env);
    const peer = spawnBystander();
    strays.push(peer);
    // Both are the peer's at startup; the first lease runs out while the daemon runs, the second does not.
    leaseToPeer(env, first.job_id, peer, Date.now() + 3_000);
    leaseToPeer(env, second.job_id, peer, Date.now() + 600_000);
    const started = await startLogged(env);
    d = started.daemon;
    const held = (id: number) =>
      started.lines.filter((l) => l.msg === 'attempt held by another live daemon' && l.attempt === id);
    expect(held(first.id)).toHaveLength(1);
    expect(held(second.id)).toHaveLength(1);
    expect(started.lines.filter((l) => l.at === 'startup')).toHaveLength(0);

    await waitFor(() => groups(env).find((g) => g.group_id === first.group_id)?.state === 'converted', {
      what: 'the expired attempt recovered and its group converted',
      timeoutMs: 30_000,
    });
    const recovered = started.lines.filter((l) => l.msg === 'recovered open attempts of a daemon that died');
    expect(recovered).toMatchObject([{ recovered: 1, at: 'lease expiry', level: 'info' }]);
    expect(
      query<{ ended_at: number | null; outcome: string | null }>(
        env,
        'SELECT ended_at, outcome FROM converter_attempts WHERE id = ?',
        first.id,
      ),
    ).toMatchObject([{ outcome: 'crashed' }]);
    // The peer's attempt within its lease: still open, the job still the peer's, logged once (at startup).
    expect(openAttempts(env)).toEqual([second]);
    expect(
      query<{ lease_owner: string }>(env, 'SELECT lease_owner FROM jobs WHERE id = ?', second.job_id),
    ).toEqual([{ lease_owner: `${os.hostname()}:${peer}:converter:peer01` }]);
    expect(held(second.id)).toHaveLength(1);
    expect(groups(env).find((g) => g.group_id === second.group_id)?.state).toBe('converting');
  });

  it('never takes over its own running conversion whose lease looks expired (a late heartbeat)', async () => {
    // A free slot: the claim gate is consulted on every main-loop pass while the conversion runs.
    env = await makeEnv({
      leaseS: 60,
      maxConcurrent: 2,
      converter: { argv: fakeArgv('ok', 4_000), timeoutS: 30 },
    });
    const started = await startLogged(env);
    d = started.daemon;
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'converter started' });
    const [job] = query<{ id: number; lease_expires_at: number }>(
      env,
      "SELECT id, lease_expires_at FROM jobs WHERE queue = 'conversions' AND state = 'running'",
    );
    // The lease runs out under our own running converter: the gate sees an expired running job.
    tamper(env, (db) =>
      db.prepare('UPDATE jobs SET lease_expires_at = ? WHERE id = ?').run(Date.now() - 1_000, job.id),
    );
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(events(env, 'converter.attempt_adopted')).toHaveLength(0);
    expect(started.lines.filter((l) => l.msg === 'recovered open attempts of a daemon that died')).toEqual(
      [],
    );
    expect(
      query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts').map((r) => r.outcome),
    ).toEqual(['ok']);
  });
});
