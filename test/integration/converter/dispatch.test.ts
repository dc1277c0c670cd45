// Exactly-once dispatch, pinned through the daemon's own entry points: how many converters run at once, which
// conversions jobs may start a converter, and that a running conversion keeps its job's lease. Each test
// fails when the guard it names is removed.
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../lib/db/index.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
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
import { openAttempt, tamper, withSection } from './orphans.js';
import { trackDaemons } from './track.js';

const SPACING_MS = 309_000;

let env: Env;
const { start } = trackDaemons(() => env, { kill: 'group' });

/** The most converter runs alive at one instant, from the fake converter's start and end lines. */
function peakConcurrency(lines: FakeLine[]): number {
  const edges = lines
    .filter((l) => l.event === 'start' || l.event === 'end')
    .map((l) => ({ t: l.t, d: l.event === 'start' ? 1 : -1 }))
    .sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

function startsOf(e: Env, groupId: string): FakeLine[] {
  return fakeLog(e).filter((l) => l.event === 'start' && l.group === groupId);
}

/** A conversions job that is not the group's own (another dedupe key), as a stray enqueue would leave. */
function enqueueStray(e: Env, groupRef: number, key: string): number {
  const db = openDb({ name: 'state', path: e.statePath });
  try {
    return new SqliteQueueStore(db).enqueue({
      queue: 'conversions',
      kind: 'convert',
      payload: { groupRef, groupId: key },
      dedupeKey: key,
      maxAttempts: 3,
    }).job.id;
  } finally {
    db.close();
  }
}

function jobById(e: Env, id: number): { state: string; result: string | null; attempts: number } {
  return query<{ state: string; result: string | null; attempts: number }>(
    e,
    'SELECT state, result, attempts FROM jobs WHERE id = ?',
    id,
  )[0];
}

function groupRef(e: Env, groupId: string): number {
  return query<{ id: number }>(e, 'SELECT id FROM converter_groups WHERE group_id = ?', groupId)[0].id;
}

describe('converter dispatch', () => {
  it('maxConcurrent bounds the converters running at once, across groups', async () => {
    env = await makeEnv({ maxConcurrent: 2, converter: { argv: fakeArgv('ok', 1500), timeoutS: 60 } });
    for (let i = 0; i < 4; i++) writeGroupFiles(env.incoming, T0 + i * SPACING_MS);
    await start(env);
    await waitFor(() => groups(env).filter((g) => g.state === 'converted').length === 4, {
      what: 'four groups converted',
      timeoutMs: 40_000,
    });
    expect(peakConcurrency(fakeLog(env))).toBe(2);
  });

  it('the claim re-checks inside its transaction that no conversion lease has expired', async () => {
    env = await makeEnv({
      maxConcurrent: 2,
      leaseS: 3,
      converter: { argv: fakeArgv('ok', 4000), timeoutS: 60 },
    });
    let armed = false;
    let expired = 0;
    await start(env, {
      // Runs inside dispatch, after its lease check and before the claim's transaction: the moment a
      // stalled holder's lease runs out between the two.
      freeBytes: () => {
        if (armed) {
          armed = false;
          expired += tamper(env, (db) =>
            db
              .prepare(
                "UPDATE jobs SET lease_expires_at = 1 WHERE queue = 'conversions' AND state = 'running'",
              )
              .run(),
          ).changes;
        }
        return 1e15;
      },
    });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'first converter started' });
    armed = true;
    writeGroupFiles(env.incoming, T0 + SPACING_MS);
    await waitFor(() => groups(env).length === 2 && groups(env).every((g) => g.state === 'converted'), {
      what: 'both groups converted',
      timeoutMs: 30_000,
    });
    expect(expired).toBe(1);
    for (const g of groups(env)) expect(startsOf(env, g.group_id)).toHaveLength(1);
    expect(conversionJobs(env)).toMatchObject([
      { state: 'done', attempts: 1 },
      { state: 'done', attempts: 1 },
    ]);
  });

  it('a conversions job whose payload does not fit the job type is refused at claim (dead, saying why), no spawn', async () => {
    env = await makeEnv();
    await start(env);
    const db = openDb({ name: 'state', path: env.statePath });
    let bad: number;
    try {
      bad = new SqliteQueueStore(db).enqueue({
        queue: 'conversions',
        kind: 'convert',
        payload: { group: 'not a group ref' },
        maxAttempts: 3,
      }).job.id;
    } finally {
      db.close();
    }
    await waitFor(() => jobById(env, bad).state === 'dead', { what: 'malformed job refused' });
    const [row] = query<{ last_error: string | null; attempts: number }>(
      env,
      'SELECT last_error, attempts FROM jobs WHERE id = ?',
      bad,
    );
    expect(row.last_error).toContain('bad payload');
    expect(row.last_error).toContain('groupRef');
    expect(fakeLog(env)).toHaveLength(0);
    // The daemon goes on: a real group still converts.
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'group converted' });
  });

  it('a stale or duplicate conversions job for a group is finished as skipped without a spawn', async () => {
    env = await makeEnv();
    // One group fails for good (exit 5), then another converts.
    const failing = await start(withSection(env, { converter: { argv: fakeArgv('exit5'), timeoutS: 20 } }));
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'first group failed' });
    await failing.stop();
    const d = await start(env);
    writeGroupFiles(env.incoming, T0 + SPACING_MS);
    await waitFor(() => groups(env)[1]?.state === 'converted', { what: 'second group converted' });
    const [failed, converted] = groups(env);
    const strays = [
      enqueueStray(env, groupRef(env, failed.group_id), 'stray-failed'),
      enqueueStray(env, groupRef(env, converted.group_id), 'stray-converted'),
      enqueueStray(env, 987_654, 'stray-gone'),
    ];
    await waitFor(() => strays.every((id) => jobById(env, id).state === 'done'), {
      what: 'stray jobs finished',
    });
    // The group's own dead job redriven through the queue after the operator abandoned the group.
    const abandon = await fetch(
      `http://127.0.0.1:${d.port}/api/groups/${encodeURIComponent(failed.group_id)}/abandon`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
    );
    expect(abandon.status).toBe(200);
    const [own] = conversionJobs(env);
    expect(own.state).toBe('dead');
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      new SqliteQueueStore(db).redrive(own.id);
    } finally {
      db.close();
    }
    strays.push(own.id);
    await waitFor(() => jobById(env, own.id).state === 'done', { what: 'redriven job finished' });
    expect(strays.map((id) => JSON.parse(jobById(env, id).result!) as unknown)).toEqual([
      { skipped: 'group is failed' },
      { skipped: 'group is converted' },
      { skipped: 'group is gone' },
      { skipped: 'group is abandoned' },
    ]);
    expect(startsOf(env, failed.group_id)).toHaveLength(1);
    expect(startsOf(env, converted.group_id)).toHaveLength(1);
    expect(groups(env).map((g) => g.state)).toEqual(['abandoned', 'converted']);
  });

  it('a queued job for a group whose attempt is still open does not start a second converter', async () => {
    env = await makeEnv({ maxConcurrent: 2, converter: { argv: fakeArgv('ok', 4000), timeoutS: 60 } });
    await start(env);
    writeGroupFiles(env.incoming, T0);
    const run = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter started',
    });
    const a = openAttempt(env)!;
    // The group's own job handed back to the queue while its converter still runs.
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      new SqliteQueueStore(db).release({
        jobId: a.job_id,
        queue: 'conversions',
        owner: 'test',
        token: a.lease_token,
        attempt: 1,
        expiresAt: Date.now(),
      });
    } finally {
      db.close();
    }
    await waitFor(() => jobById(env, a.job_id).state === 'done', { what: 'released job claimed again' });
    expect(JSON.parse(jobById(env, a.job_id).result!)).toEqual({ skipped: 'group is converting' });
    expect(startsOf(env, run.group)).toHaveLength(1);
  });

  it('heartbeats keep the lease of a conversion that runs longer than the lease', async () => {
    env = await makeEnv({ leaseS: 3, converter: { argv: fakeArgv('ok', 7000), timeoutS: 60 } });
    // A second daemon on the same database would take the job over the moment its lease expired.
    await start(env);
    await start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(query(env, 'SELECT outcome FROM converter_attempts')).toEqual([{ outcome: 'ok' }]);
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
    // The lease never lapsed: the other daemon neither stopped nor adopted the conversion.
    expect(
      query(
        env,
        "SELECT type FROM events WHERE type IN ('converter.attempt_adopted', 'converter.attempt_crashed')",
      ),
    ).toEqual([]);
  });
});
