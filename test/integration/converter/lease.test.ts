// The conversions queue's lease at run time: a holder that stalls after dispatch (its converter still
// running, no heartbeat) loses the job when the lease expires, and the running daemon's recovery stops the
// orphaned converter (pid/pgid from the attempt row) before the queue lets the group run again.
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { openDb } from '../../../lib/db/index.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  conversionJobs,
  events,
  FAKE,
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
let d: RunningDaemon | undefined;
const tracker = trackDaemons(() => env);

/** Start a converter for the open attempt as the stalled holder would have, and record it in the row. */
function startOrphan(e: Env): number {
  const db = new Database(e.statePath);
  try {
    const a = db
      .prepare('SELECT id, manifest_path, output_path FROM converter_attempts WHERE ended_at IS NULL')
      .get() as { id: number; manifest_path: string; output_path: string };
    const child = spawn(
      process.execPath,
      [FAKE, 'ok', '--manifest', a.manifest_path, '--out', a.output_path, '--delay-ms', '60000'],
      { detached: true, stdio: 'ignore', env: { ...process.env, FAKE_CONVERTER_LOG: e.log } },
    );
    child.unref();
    db.prepare('UPDATE converter_attempts SET pid = ?, pgid = ?, spawned_at = ? WHERE id = ?').run(
      child.pid,
      child.pid,
      Date.now(),
      a.id,
    );
    return child.pid!;
  } finally {
    db.close();
  }
}

describe('conversions job lease', () => {
  it('an expired lease with a live orphan: orphan stopped first, then one more attempt under a new token', async () => {
    env = await makeEnv({ leaseS: 1, killGraceS: 1 });
    let orphan = 0;
    d = await tracker.start(env, {
      afterDispatchCommit: () => {
        if (orphan) return;
        orphan = startOrphan(env);
        throw new Error('test: the dispatcher stalls after the commit (no heartbeat, no outcome)');
      },
    });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'orphan started' });
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(pidAlive(orphan)).toBe(false);
    const lines = fakeLog(env);
    const starts = lines.filter((l) => l.event === 'start');
    expect(starts.map((l) => l.pid)).toHaveLength(2);
    expect(starts[0].pid).toBe(orphan);
    const stopped = lines.find((l) => l.pid === orphan && l.event === 'sigterm');
    expect(stopped).toBeDefined();
    expect(starts[1].t).toBeGreaterThanOrEqual(stopped!.t);
    expect(
      query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts ORDER BY attempt').map(
        (r) => r.outcome,
      ),
    ).toEqual(['crashed', 'ok']);
    const jobs = conversionJobs(env);
    expect(jobs).toMatchObject([{ state: 'done', attempts: 2 }]);
    expect(events(env, 'converter.attempt_crashed')).toHaveLength(1);
  });

  it('an expired lease on the last attempt, attempt already closed: the queue buries the job, the group fails', async () => {
    env = await makeEnv({ leaseS: 1, maxAttempts: 1 });
    let stalled = false;
    d = await tracker.start(env, {
      afterDispatchCommit: () => {
        if (stalled) return;
        stalled = true;
        const db = new Database(env.statePath);
        try {
          db.prepare(
            "UPDATE converter_attempts SET ended_at = ?, outcome = 'crashed' WHERE ended_at IS NULL",
          ).run(Date.now());
        } finally {
          db.close();
        }
        throw new Error('test: the dispatcher stalls after the commit');
      },
    });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed', timeoutMs: 20_000 });
    expect(groups(env)[0].error).toBe('lease expired on the last attempt');
    expect(conversionJobs(env)).toMatchObject([{ state: 'dead', attempts: 1 }]);
    expect(fakeLog(env)).toHaveLength(0);
    expect(query(env, "SELECT 1 FROM alerts WHERE alertname = 'ConverterGroupFailed'")).toHaveLength(1);
  });

  it('a dead job redriven through the queue itself (contimg jobs redrive) dispatches the failed group again', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('exit5'), timeoutS: 20 } });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed' });
    const [job] = conversionJobs(env);
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      expect(new SqliteQueueStore(db).redrive(job.id).state).toBe('queued');
    } finally {
      db.close();
    }
    await waitFor(() => query(env, 'SELECT 1 FROM converter_attempts').length === 2, {
      what: 'second attempt',
    });
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed again' });
    expect(conversionJobs(env)).toMatchObject([{ id: job.id, state: 'dead', attempts: 1 }]);
  });
  it('a running conversion cancelled through the queue (contimg jobs cancel) stops the converter and fails the group', async () => {
    env = await makeEnv({ leaseS: 1, converter: { argv: fakeArgv('ok', 60_000), timeoutS: 120 } });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'converter started' });
    const [job] = conversionJobs(env);
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      expect(new SqliteQueueStore(db).cancel(job.id).state).toBe('cancelled');
    } finally {
      db.close();
    }
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed', timeoutMs: 20_000 });
    expect(groups(env)[0].error).toBe('conversion job cancelled by an operator');
    expect(query(env, 'SELECT 1 FROM converter_attempts WHERE ended_at IS NULL')).toHaveLength(0);
    expect(pidAlive(fakeLog(env).find((l) => l.event === 'start')!.pid)).toBe(false);
  });
  it('a converter whose pid cannot be recorded is stopped and the attempt fails (no untracked converter)', async () => {
    env = await makeEnv({ maxAttempts: 1, converter: { argv: fakeArgv('ok', 60_000), timeoutS: 120 } });
    const raw = new Database(env.statePath);
    try {
      raw.exec(`CREATE TRIGGER test_no_pid BEFORE UPDATE OF pid ON converter_attempts
                BEGIN SELECT RAISE(ABORT, 'test: pid column refused'); END`);
    } finally {
      raw.close();
    }
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed', timeoutMs: 20_000 });
    expect(groups(env)[0].error).toContain("cannot record the converter's pid");
    const start = fakeLog(env).find((l) => l.event === 'start');
    if (start) expect(pidAlive(start.pid)).toBe(false);
  });
  it('an outcome write that fails once is retried: the finished conversion is not run a second time', async () => {
    env = await makeEnv({ leaseS: 2 });
    const raw = new Database(env.statePath);
    try {
      raw.exec(`CREATE TRIGGER test_no_close BEFORE UPDATE OF ended_at ON converter_attempts
                BEGIN SELECT RAISE(ABORT, 'test: attempt row refused'); END`);
    } finally {
      raw.close();
    }
    d = await tracker.start(env);
    const dispatchErrors = async (): Promise<number> => {
      const m = d!.deps.registry.getSingleMetric('contimg_converter_loop_errors_total');
      const { values } = await m!.get();
      return values.find((v) => v.labels.loop === 'dispatch')?.value ?? 0;
    };
    writeGroupFiles(env.incoming, T0);
    await waitFor(async () => (await dispatchErrors()) >= 1, { what: 'outcome write failed' });
    const fix = new Database(env.statePath);
    try {
      fix.exec('DROP TRIGGER test_no_close');
    } finally {
      fix.close();
    }
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 20_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(
      query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts').map((r) => r.outcome),
    ).toEqual(['ok']);
  });
});
