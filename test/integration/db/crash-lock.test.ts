// SIGKILL of a process holding BEGIN IMMEDIATE with uncommitted writes leaves
// the database intact and the write lock free.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DbBusyError } from '../../../lib/errors.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { createCounter, openStateDb, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let file: string;
const children: Forked<unknown>[] = [];
beforeEach(async () => {
  const t = await setUpStateDb();
  ({ dir, file } = t);
  createCounter(t.db, 7, 'committed');
  t.db.close();
});
afterEach(() => tearDownStateDb({ dir }, children));

describe('crash mid-transaction', () => {
  it('the parent gets the lock within 100 ms of the SIGKILL; data unchanged; quick_check ok', async () => {
    const holder = forkFixture<{ locked?: boolean }>('lock-holder.ts', [file]);
    children.push(holder);
    await waitFor(() => holder.messages.some((m) => m.locked), { what: 'child holds the write lock' });

    // While the child lives, a short-budget write is refused as busy.
    const probe = openStateDb(file, { busyTimeoutMs: 50, writeBudgetMs: 100 });
    expect(() => probe.write((c) => c.prepare('UPDATE counter SET value = 0').run())).toThrow(DbBusyError);
    probe.close();

    holder.child.kill('SIGKILL');
    expect(await holder.exited).toBe('SIGKILL');
    // A 100 ms write budget is the test: past it db.write would throw DbBusyError.
    const db = openStateDb(file, { busyTimeoutMs: 100, writeBudgetMs: 100 });
    try {
      expect(db.read((c) => c.prepare('SELECT value, note FROM counter').get())).toEqual({
        value: 7,
        note: 'committed',
      });
      db.write((c) => c.prepare("UPDATE counter SET note = 'after crash'").run());
      expect(db.conn.pragma('quick_check', { simple: true })).toBe('ok');
      expect(db.read((c) => c.prepare('SELECT value, note FROM counter').get())).toEqual({
        value: 7,
        note: 'after crash',
      });
    } finally {
      db.close();
    }
  });
});
