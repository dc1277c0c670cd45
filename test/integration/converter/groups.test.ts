// Incomplete and late groups, the disk gate, converter failures, observation order and the operator
// actions, against the daemon in process.
import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { abandonGroup, requeueGroup } from '../../../daemons/streaming-converter/admin.js';
import { openDb } from '../../../lib/db/index.js';
import { waitFor } from '../../helpers/wait.js';
import { pidAlive } from './proc.js';
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
  writeSubband,
  type Env,
} from './harness.js';
import { trackDaemons } from './track.js';

let env: Env;
let d: RunningDaemon | undefined;
const tracker = trackDaemons(() => env);

const alertsNamed = (e: Env, name: string) =>
  query<{ status: string; labels: string }>(e, 'SELECT status, labels FROM alerts WHERE alertname = ?', name);

describe('groups', () => {
  it('15 of 16 → incomplete after the timeout, one alert; the 16th is late; requeue completes it', async () => {
    env = await makeEnv({ groupTimeoutS: 1.5 });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0, { skip: [9] });
    await waitFor(() => groups(env)[0]?.state === 'incomplete', { what: 'incomplete' });
    expect(alertsNamed(env, 'ConverterGroupIncomplete')).toHaveLength(1);
    expect(events(env, 'converter.incomplete')).toHaveLength(1);
    const late = writeSubband(env.incoming, T0, 9);
    await waitFor(
      () =>
        query<{ state: string }>(env, 'SELECT state FROM hdf5_files WHERE path = ?', late)[0]?.state ===
        'late',
      { what: 'late' },
    );
    expect(groups(env)).toHaveLength(1);
    // The operator requeues with the subbands it has (the late file stays out: it was judged late).
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      expect(requeueGroup(db, '2025-06-01T12:00:00', Date.now(), { partial: true }).state).toBe('ready');
    } finally {
      db.close();
    }
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted partial' });
    expect(fakeLog(env).find((l) => l.event === 'start')?.files).toBe(15);
    // No job until the requeue made the group dispatchable; then exactly one.
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
    expect(alertsNamed(env, 'ConverterGroupIncomplete')[0].status).toBe('resolved');
  });

  it('dispatchPartial: true converts what is there after the timeout instead of going incomplete', async () => {
    env = await makeEnv({ groupTimeoutS: 1, dispatchPartial: true });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0, { skip: [2] });
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted partial' });
    const start = fakeLog(env).find((l) => l.event === 'start')!;
    expect(start.subbands).toEqual([...Array(16).keys()].filter((s) => s !== 2));
    expect(alertsNamed(env, 'ConverterGroupIncomplete')).toHaveLength(0);
  });

  it('out-of-order discovery dispatches in observation order; 309 s apart never merge; 61 s apart split', async () => {
    env = await makeEnv();
    // Bootstrap: files are already there when the daemon starts, written newest first.
    writeGroupFiles(env.incoming, T0 + 2 * 309_000);
    writeGroupFiles(env.incoming, T0 + 309_000);
    writeGroupFiles(env.incoming, T0);
    writeSubband(env.incoming, T0 + 3 * 309_000, 0);
    writeSubband(env.incoming, T0 + 3 * 309_000 + 61_000, 1);
    d = await tracker.start(env);
    await waitFor(() => groups(env).filter((g) => g.state === 'converted').length === 3, {
      what: 'three converted',
    });
    const order = fakeLog(env)
      .filter((l) => l.event === 'start')
      .map((l) => l.group);
    expect(order).toEqual(['2025-06-01T12:00:00', '2025-06-01T12:05:09', '2025-06-01T12:10:18']);
    expect(groups(env).map((g) => [g.group_id, g.n_valid])).toEqual([
      ['2025-06-01T12:00:00', 16],
      ['2025-06-01T12:05:09', 16],
      ['2025-06-01T12:10:18', 16],
      ['2025-06-01T12:15:27', 1],
      ['2025-06-01T12:16:28', 1],
    ]);
  });

  it('groups across midnight and the new year by numeric time', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    const nye = Date.UTC(2025, 11, 31, 23, 59, 50);
    writeGroupFiles(env.incoming, nye, { jitter: (sb) => (sb % 2 ? 15 : 0) });
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    expect(groups(env)).toHaveLength(1);
    expect(groups(env)[0].group_id).toBe('2025-12-31T23:59:50');
  });

  it('disk gate: below minFreeGb pauses dispatch (metric 1, alert), recovery resumes', async () => {
    env = await makeEnv({ minFreeGb: 10 });
    let free = 1e9;
    d = await tracker.start(env, { freeBytes: () => free });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'ready', { what: 'ready' });
    await waitFor(
      async () =>
        /dispatch_paused\{reason="disk"\} 1/.test(
          await (await fetch(`http://127.0.0.1:${d!.port}/metrics`)).text(),
        ),
      { what: 'paused' },
    );
    expect(fakeLog(env)).toHaveLength(0);
    expect(alertsNamed(env, 'ConverterDiskLow')[0].status).toBe('firing');
    free = 100e9;
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(alertsNamed(env, 'ConverterDiskLow')[0].status).toBe('resolved');
  });
});

describe('converter failures', () => {
  it('a hanging converter is killed as a process group at the timeout; backoff; failed after maxAttempts', async () => {
    // The timeout counts from the supervisor's start: leave the converter time to start on a loaded machine.
    env = await makeEnv({ maxAttempts: 2, converter: { argv: fakeArgv('hang'), timeoutS: 4 } });
    const grand = `${env.dir}/grandchild.pid`;
    d = await tracker.start(env, {
      baseEnv: {
        ...process.env,
        FAKE_CONVERTER_LOG: `${env.dir}/fake.log`,
        FAKE_CONVERTER_GRANDCHILD: grand,
      },
    });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'retry_wait', { what: 'retry_wait', timeoutMs: 30_000 });
    const g = groups(env)[0];
    expect(g.attempts).toBe(1);
    expect(g.next_attempt_at).toBeGreaterThan(0);
    expect(g.job_state).toBe('queued');
    const gpid = Number(fs.readFileSync(grand, 'utf8'));
    await waitFor(() => !pidAlive(gpid), { what: 'grandchild gone' });
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed', timeoutMs: 30_000 });
    const outcomes = query<{ outcome: string }>(
      env,
      'SELECT outcome FROM converter_attempts ORDER BY attempt',
    ).map((a) => a.outcome);
    expect(outcomes).toEqual(['timeout', 'timeout']);
    expect(alertsNamed(env, 'ConverterGroupFailed')).toHaveLength(1);
  });

  it('a converter that cannot be started fails as spawn_error, with the reason in the group error', async () => {
    const missing = `${os.tmpdir()}/contimg-no-such-converter`;
    env = await makeEnv({
      maxAttempts: 1,
      converter: { argv: [missing, '--manifest', '{manifest}'], timeoutS: 20 },
    });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed' });
    const [a] = query<{ outcome: string; error: string }>(
      env,
      'SELECT outcome, error FROM converter_attempts',
    );
    expect(a.outcome).toBe('spawn_error');
    expect(a.error).toContain('ENOENT');
    expect(groups(env)[0].error).toContain(missing);
  });

  it('exit 5 fails at once', async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('exit5'), timeoutS: 20 } });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed' });
    expect(groups(env)[0].attempts).toBe(1);
    expect(query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts')).toEqual([
      { outcome: 'validation' },
    ]);
    // failed is the job's dead state; requeue redrives that same job with its attempts reset.
    const [dead] = conversionJobs(env);
    expect(dead).toMatchObject({ state: 'dead', attempts: 1, dedupe_key: '2025-06-01T12:00:00' });
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      expect(requeueGroup(db, '2025-06-01T12:00:00', Date.now()).state).toBe('ready');
    } finally {
      db.close();
    }
    await waitFor(
      () => query(env, 'SELECT 1 FROM converter_attempts').length === 2 && groups(env)[0].state === 'failed',
      { what: 'failed again after requeue' },
    );
    expect(conversionJobs(env)).toMatchObject([{ id: dead.id, state: 'dead', attempts: 1 }]);
  });

  it('requeue of a converted group whose job retention already pruned converts it again', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      const { SqliteQueueStore } = await import('../../../lib/queue/index.js');
      await waitFor(() => new SqliteQueueStore(db).prune(0) === 1 || undefined, { what: 'job pruned' });
      expect(conversionJobs(env)).toEqual([]);
      expect(requeueGroup(db, '2025-06-01T12:00:00', Date.now()).state).toBe('ready');
    } finally {
      db.close();
    }
    await waitFor(() => fakeLog(env).filter((l) => l.event === 'start').length === 2, { what: 'second run' });
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted again' });
  });

  it('exit 0 without output is a failure, retried, never a silent success', async () => {
    env = await makeEnv({ maxAttempts: 2, converter: { argv: fakeArgv('noout'), timeoutS: 20 } });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'failed', { what: 'failed' });
    expect(
      query<{ outcome: string }>(env, 'SELECT outcome FROM converter_attempts').map((a) => a.outcome),
    ).toEqual(['no_output', 'no_output']);
    expect(events(env, 'converter.converted')).toHaveLength(0);
  });

  it('a crashing converter (signal) is retried; abandon stops a group', async () => {
    env = await makeEnv({ retryBaseS: 30, converter: { argv: fakeArgv('crash'), timeoutS: 20 } });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'retry_wait', { what: 'retry_wait' });
    expect(
      query<{ outcome: string; signal: string }>(env, 'SELECT outcome, signal FROM converter_attempts'),
    ).toEqual([{ outcome: 'crashed', signal: 'SIGABRT' }]);
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      expect(abandonGroup(db, '2025-06-01T12:00:00', Date.now()).state).toBe('abandoned');
      expect(() => abandonGroup(db, 'nope', Date.now())).toThrow(/no group/);
      // The queued retry is cancelled with it: nothing dispatches an abandoned group.
      expect(conversionJobs(env)).toMatchObject([{ state: 'cancelled', attempts: 1 }]);
    } finally {
      db.close();
    }
  });
});
