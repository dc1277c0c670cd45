// What a dispatch records, through the daemon's own entry points: the attempt row keyed to the job and its
// lease token, its directory and output path, the group's attempt count and dispatch time, the `dispatched`
// event and the operator's log lines; and which group states a conversions job may start a converter from
// (ready, retry_wait, failed after a redrive, converting after an expired claim whose attempt was closed).
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../lib/db/index.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
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
import { diedAfterDispatch, tamper } from './orphans.js';
import { trackDaemons } from './track.js';

let env: Env;
const { startLogged } = trackDaemons(() => env, { kill: 'group' });

async function logged(e: Env): Promise<Record<string, unknown>[]> {
  const { lines } = await startLogged(e, { level: 'info' });
  return lines;
}

interface AttemptLite {
  attempt: number;
  job_id: number;
  lease_token: number;
  started_at: number;
  manifest_path: string;
  output_path: string;
  outcome: string | null;
}

function attempts(e: Env): AttemptLite[] {
  return query<AttemptLite>(
    e,
    `SELECT attempt, job_id, lease_token, started_at, manifest_path, output_path, outcome
     FROM converter_attempts ORDER BY attempt`,
  );
}

function groupRow(e: Env): { id: number; group_id: string; dispatched_at: number; job_id: number } {
  return query<{ id: number; group_id: string; dispatched_at: number; job_id: number }>(
    e,
    'SELECT id, group_id, dispatched_at, job_id FROM converter_groups',
  )[0];
}

const msgs = (lines: Record<string, unknown>[], msg: string): Record<string, unknown>[] =>
  lines.filter((l) => l.msg === msg);

describe('converter dispatch: what a dispatch records', () => {
  it('each attempt row names its job, lease token, directory and output; the retry dispatches from retry_wait', async () => {
    env = await makeEnv({
      maxAttempts: 2,
      converter: { argv: fakeArgv('crash'), timeoutS: 20, outputName: 'c-{group}-x.ms' },
    });
    const lines = await logged(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'group failed after two crashes' });
    const g = groupRow(env);
    const gid = g.group_id;
    const out = path.join(env.out, `c-${gid}-x.ms`);
    const rows = attempts(env);
    const [job] = conversionJobs(env);
    expect(rows).toMatchObject(
      [1, 2].map((n) => ({
        attempt: n,
        job_id: g.job_id,
        manifest_path: path.join(env.scratch, gid, `attempt-${n}`, 'manifest.json'),
        output_path: out,
        outcome: 'crashed',
      })),
    );
    // Each attempt is keyed to the lease it ran under: the second claim's token is the job's last one.
    expect(rows[0].lease_token).toBeLessThan(rows[1].lease_token);
    expect(rows[1].lease_token).toBe(job.lease_token);
    expect(job).toMatchObject({ id: g.job_id, state: 'dead', attempts: 2 });
    expect(groups(env)[0].attempts).toBe(2);
    expect(g.dispatched_at).toBe(rows[1].started_at);
    expect(events(env, 'converter.dispatched').map((e) => JSON.parse(e.payload) as unknown)).toEqual(
      [1, 2].map((n) => ({ groupId: gid, attempt: n, outputPath: out, jobId: g.job_id })),
    );
    expect(msgs(lines, 'dispatching')).toMatchObject([
      { groupId: gid, from: 'ready', to: 'converting', attempt: 1, jobId: g.job_id },
      { groupId: gid, from: 'retry_wait', to: 'converting', attempt: 2, jobId: g.job_id },
    ]);
    const starts = fakeLog(env).filter((l) => l.event === 'start');
    expect(starts).toHaveLength(2);
    const started = msgs(lines, 'converter started');
    expect(started).toMatchObject([1, 2].map((n) => ({ groupId: gid, attempt: n })));
    // The pid logged is the one recorded in the attempt row (the supervisor's).
    expect(started.map((l) => l.pid)).toEqual(
      query<{ pid: number }>(env, 'SELECT pid FROM converter_attempts ORDER BY attempt').map((r) => r.pid),
    );
    expect(started[0].argv).toContain(rows[0].manifest_path);
  });

  it("a running conversion's job is leased to this daemon as a converter: host, pid, kind, random suffix", async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('ok', 3000), timeoutS: 60 } });
    await logged(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'converter started' });
    // The owner written on the job's lease: recovery on this host tells a live holder from a dead one by its
    // host and pid; the kind says which daemon holds the job to whoever reads the row.
    const [{ lease_owner: owner }] = query<{ lease_owner: string }>(
      env,
      "SELECT lease_owner FROM jobs WHERE queue = 'conversions' AND state = 'running'",
    );
    expect(owner.split(':').slice(0, 3)).toEqual([os.hostname(), String(process.pid), 'converter']);
    expect(owner).toMatch(/:converter:[0-9a-f]{6}$/);
  });

  it('a stale job is logged as a warning naming the job, the group ref and its state', async () => {
    env = await makeEnv();
    const lines = await logged(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'group converted' });
    const g = groupRow(env);
    const stray = enqueue(env, g.id, 'stray');
    await waitFor(() => msgs(lines, 'stale conversion job; skipped').length === 1, {
      what: 'stale job logged',
    });
    expect(msgs(lines, 'stale conversion job; skipped')).toMatchObject([
      { level: 'warn', jobId: stray, groupRef: g.id, state: 'converted' },
    ]);
    expect(msgs(lines, 'dispatching')).toHaveLength(1);
  });

  it('a failed group whose dead job is redriven through the queue is dispatched again from failed', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('exit5'), timeoutS: 20 } });
    const lines = await logged(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.job_state === 'dead', { what: 'group failed, job dead' });
    const [job] = conversionJobs(env);
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      new SqliteQueueStore(db).redrive(job.id);
    } finally {
      db.close();
    }
    await waitFor(() => fakeLog(env).filter((l) => l.event === 'end').length === 2, { what: 'second run' });
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed again' });
    expect(msgs(lines, 'dispatching').map((l) => l.from)).toEqual(['ready', 'failed']);
    expect(attempts(env).map((a) => a.outcome)).toEqual(['validation', 'validation']);
  });

  it('an expired claim whose attempt was already closed is dispatched again from converting', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    // The attempt was closed (as recovery does) but the job's lease ran out before it was settled.
    tamper(env, (db) => {
      db.prepare("UPDATE converter_attempts SET ended_at = ?, outcome = 'crashed' WHERE id = ?").run(
        Date.now(),
        a.id,
      );
      db.prepare("UPDATE jobs SET lease_expires_at = 1 WHERE queue = 'conversions'").run();
    });
    const lines = await logged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    expect(msgs(lines, 'dispatching')).toMatchObject([{ from: 'converting', attempt: 2 }]);
    expect(groups(env)[0].attempts).toBe(2);
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
  });
});

/** A conversions job that is not the group's own (another dedupe key), as a stray enqueue would leave. */
function enqueue(e: Env, groupRef: number, key: string): number {
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
