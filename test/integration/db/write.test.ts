// db.write bookkeeping changed with the busy-loop fix: application errors thrown inside fn are not counted
// as database errors, SQLite errors are classified and counted, and every write records its lock wait.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { DbConstraintError, InvalidStateError } from '../../../lib/errors.js';
import { createRegistry, dbMetrics, type Registry } from '../../../lib/metrics.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';

let dir: string;
let db: Db;
let registry: Registry;
beforeEach(async () => {
  registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  ({ dir, db } = await setUpStateDb({ metrics: dbMetrics(registry, ['state']) }));
});
afterEach(() => tearDownStateDb({ dir, db }));

async function errorsByCode(): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('contimg_db_errors_total')!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.code), v.value]));
}

type Sample = { metricName?: string; value: number; labels: Record<string, unknown> };
async function samples(name: string): Promise<Sample[]> {
  return (await registry.getSingleMetric(name)!.get()).values as Sample[];
}

describe('db.write bookkeeping', () => {
  it('does not count an application error thrown inside fn as a database error', async () => {
    expect(() =>
      db.write(() => {
        throw new InvalidStateError('not now');
      }),
    ).toThrow(InvalidStateError);
    expect(Object.values(await errorsByCode()).every((n) => n === 0)).toBe(true);
  });

  it('classifies and counts SQLite errors', async () => {
    db.write((c) => c.prepare("INSERT INTO leases (name) VALUES ('x')").run());
    expect(() => db.write((c) => c.prepare("INSERT INTO leases (name) VALUES ('x')").run())).toThrow(
      DbConstraintError,
    );
    expect((await errorsByCode()).constraint).toBe(1);
  });

  it('records a lock wait and a transaction duration for every write', async () => {
    db.write(() => undefined);
    db.write(() => undefined);
    const wait = await samples('contimg_db_lock_wait_seconds');
    expect(wait.find((v) => v.metricName === 'contimg_db_lock_wait_seconds_count')?.value).toBe(2);
    const tx = await samples('contimg_db_tx_seconds');
    expect(
      tx.find((v) => v.metricName === 'contimg_db_tx_seconds_count' && v.labels.kind === 'write')?.value,
    ).toBe(2);
  });
});
