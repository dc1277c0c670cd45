// `contimg jobs`: an operator lists, inspects, redrives, reruns and cancels queue jobs from outside.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../../lib/db/index.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
import { runCli } from '../../helpers/cli.js';
import { configuredDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
let config: string;
let db: Db;
let store: SqliteQueueStore;
let deadId: number;
let queuedId: number;

beforeAll(async () => {
  dir = makeTmpDir();
  const dbs = await configuredDatabases(dir);
  config = dbs.config;
  const { statePath } = dbs;
  db = openDb({ name: 'state', path: statePath });
  store = new SqliteQueueStore(db);
  deadId = store.enqueue({
    queue: 'thumbnails',
    kind: 'render',
    payload: { path: '/x.fits' },
    maxAttempts: 1,
  }).job.id;
  const [claimed] = store.claim({ queue: 'thumbnails', owner: 'test', leaseMs: 60_000, limit: 1 });
  store.fail(claimed.lease, new Error('NOT_FITS: bad signature'), { retryable: false });
  queuedId = store.enqueue({ queue: 'conversions', kind: 'convert', payload: { group: 'g1' } }).job.id;
});
afterAll(() => {
  db.close();
  removeTmpDir(dir);
});

describe('contimg jobs', () => {
  it('lists jobs as JSON, filtered by state', async () => {
    const all = await runCli(['jobs', 'list', '--config', config, '--json']);
    expect(all.code).toBe(0);
    expect((JSON.parse(all.stdout) as { id: number }[]).map((j) => j.id).sort()).toEqual(
      [deadId, queuedId].sort(),
    );
    const dead = await runCli(['jobs', 'list', '--config', config, '--state', 'dead', '--json']);
    const rows = JSON.parse(dead.stdout) as { id: number; lastError: string }[];
    expect(rows.map((j) => j.id)).toEqual([deadId]);
    expect(rows[0].lastError).toContain('NOT_FITS');
  });

  it('redrives a dead job and refuses to rerun a queued one', async () => {
    const r = await runCli(['jobs', 'redrive', String(deadId), '--config', config, '--json']);
    expect(r.code).toBe(0);
    expect(store.get(deadId)?.state).toBe('queued');
    expect(store.get(deadId)?.attempts).toBe(0);
    const rerun = await runCli(['jobs', 'rerun', String(deadId), '--config', config]);
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toMatch(/contimg: /);
    // A conversion is rerun through its group, never as a bare job the dispatcher would not know.
    const conv = await runCli(['jobs', 'rerun', String(queuedId), '--config', config]);
    expect(conv.code).toBe(2);
    expect(conv.stderr).toContain('contimg converter requeue GROUP');
  });

  it('cancels a queued job and rejects a bad id with a usage error', async () => {
    const r = await runCli(['jobs', 'cancel', String(queuedId), '--config', config, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { state: string }).state).toBe('cancelled');
    const bad = await runCli(['jobs', 'show', 'abc', '--config', config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad job id');
  });
});
