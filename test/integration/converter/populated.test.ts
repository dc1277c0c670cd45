// Scaled down (the 100,000-file figure is bench/converter-coldstart.ts), and a database failure: restart over a populated directory, and SQLITE_FULL stopping the daemon without partial state.
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { DbIoError } from '../../../lib/errors.js';
import { waitFor } from '../../helpers/wait.js';
import { fakeLog, groups, makeEnv, query, T0, writeGroupFiles, type Env } from './harness.js';
import { seedConverted } from './seed.js';
import { trackDaemons } from './track.js';

let env: Env;
let d: RunningDaemon | undefined;
const tracker = trackDaemons(() => env);

describe('restart and database failures', () => {
  it('restart over 200 converted groups (3,200 files) plus 3 new ones: only the new ones dispatch', async () => {
    env = await makeEnv();
    seedConverted(env.incoming, env.statePath, 200, T0 - 200 * 309_000);
    for (let i = 0; i < 3; i++) writeGroupFiles(env.incoming, T0 + i * 309_000);
    d = await tracker.start(env);
    await waitFor(() => groups(env).filter((g) => g.state === 'converted').length === 203, {
      what: '203 converted',
      timeoutMs: 60_000,
    });
    // Each new group once; not their order: the three become ready as their files settle, which under load
    // need not follow observation time (the queue orders by observation only what is ready together).
    const starts = fakeLog(env)
      .filter((l) => l.event === 'start')
      .map((l) => l.group)
      .sort();
    expect(starts).toEqual(['2025-06-01T12:00:00', '2025-06-01T12:05:09', '2025-06-01T12:10:18']);
    expect(query(env, 'SELECT 1 FROM converter_attempts')).toHaveLength(3);
  });

  it('SQLITE_FULL stops the daemon with an error and no partial state; the next start is consistent', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${d!.port}/readyz`)).status === 200, {
      what: 'ready',
    });
    const conn = d.deps.state.conn;
    const pages = conn.pragma('page_count', { simple: true }) as number;
    conn.pragma(`max_page_count = ${pages + 2}`);
    // Fill what is left so the daemon's next insert finds the file full.
    const fill = conn.prepare(
      "INSERT INTO events (topic, type, payload, created_at) VALUES ('test', 'filler', '{}', 0)",
    );
    expect(() => {
      for (;;) fill.run();
    }).toThrow(/full/i);
    writeGroupFiles(env.incoming, T0);
    await expect(d.done).rejects.toBeInstanceOf(DbIoError);
    await d.stop();
    // Nothing half-written: the failed transaction rolled back whole, so every row is in a state the next
    // start continues from (settling files; valid files only with their group; no dispatch without attempt).
    const orphans = query(
      env,
      "SELECT 1 FROM hdf5_files f LEFT JOIN converter_groups g ON g.id = f.group_ref WHERE f.state = 'valid' AND g.id IS NULL",
    );
    expect(orphans).toHaveLength(0);
    expect(
      query(
        env,
        "SELECT 1 FROM converter_groups g WHERE state = 'converting' AND NOT EXISTS (SELECT 1 FROM converter_attempts a WHERE a.group_ref = g.id AND a.ended_at IS NULL)",
      ),
    ).toHaveLength(0);
    expect(query(env, "SELECT 1 FROM converter_groups WHERE state = 'converted'")).toHaveLength(0);
    d = await tracker.start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after restart' });
    expect(query(env, 'SELECT 1 FROM hdf5_files')).toHaveLength(16);
  });
});
