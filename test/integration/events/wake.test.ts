// How the events tail learns of new events without a fast poll: a commit in this process wakes it at once
// (never a rollback), another process's commit is hinted by a watch on the -wal file, and with no watch the
// fallback poll still delivers everything. Every tail here has a 10-minute safety poll and each test lets the
// tail's start-up follow-up looks run out before it commits, so a delivery can only have come through the path
// under test.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDb, type Db } from '../../../lib/db/index.js';
import { appendEvent, EventTail, onEventsCommitted, type EventRow } from '../../../lib/events/index.js';
import { WalHint } from '../../../lib/events/wal-hint.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const NEVER_MS = 600_000;
let dir: string;
let statePath: string;
let dbs: Db[] = [];
let tails: EventTail[] = [];
const cleanups: (() => void)[] = [];

beforeEach(async () => {
  dir = makeTmpDir();
  statePath = (await freshDatabases(dir)).statePath;
});
afterEach(() => {
  for (const t of tails) t.stop();
  for (const c of cleanups.splice(0)) c();
  for (const d of dbs) d.close();
  tails = [];
  dbs = [];
  removeTmpDir(dir);
});

function open(withReader = true): Db {
  const d = openDb({ name: 'state', path: statePath, withReader });
  dbs.push(d);
  return d;
}

/** A started tail that has relaxed to its (10-minute) poll: no look is due until something wakes it. */
async function startTail(db: Db, opts: { watchWal: boolean; fallbackPollMs?: number }): Promise<EventRow[]> {
  const got: EventRow[] = [];
  const tail = new EventTail({ db, pollMs: NEVER_MS, ...opts, onEvents: (evs) => got.push(...evs) });
  tails.push(tail);
  tail.start();
  await waitFor(() => !tail.followingUp, { timeoutMs: 10_000, what: 'the tail to relax' });
  return got;
}

/** Another process appends n events, one transaction each; resolves with its exit code. */
function otherProcessAppends(n: number): Promise<number | null> {
  const writer = fork(path.join(REPO_ROOT, 'test/integration/events/writer.ts'), [statePath, String(n)], {
    execArgv: ['--import', 'tsx'],
  });
  cleanups.push(() => writer.kill('SIGKILL'));
  return new Promise((resolve) => writer.once('exit', (code) => resolve(code)));
}

const seqs = (evs: EventRow[]): number[] => evs.map((e) => e.seq);
const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
/** One turn of the event loop: pending microtasks, then setImmediate callbacks queued before this one. */
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

it.each([
  ['a separate reader connection', true],
  ['the writer connection only', false],
])(
  'a commit in this process wakes the tail at once, with no watch and no poll (%s)',
  async (_, withReader) => {
    const db = open(withReader);
    const other = open(false);
    const got = await startTail(db, { watchWal: false, fallbackPollMs: NEVER_MS });
    db.write((c) => appendEvent(c, { topic: 't', type: 'a' }, 1));
    // At once: the wake after COMMIT queues the look for the next turn, no timer involved.
    await nextTurn();
    await nextTurn();
    expect(seqs(got)).toEqual([1]);
    // A second Db on the same file in this process (another component's connection) wakes it too.
    await waitFor(() => !tails[0].followingUp, { timeoutMs: 10_000, what: 'the tail to relax' });
    other.write((c) => appendEvent(c, { topic: 't', type: 'b' }, 2));
    await nextTurn();
    await nextTurn();
    expect(seqs(got)).toEqual([1, 2]);
  },
);

it('wakes listeners after a commit only: a rolled-back append wakes no one', async () => {
  const db = open();
  let wakes = 0;
  cleanups.push(onEventsCommitted(db.conn.name, () => wakes++));
  expect(() =>
    db.write((c) => {
      appendEvent(c, { topic: 't', type: 'rolled back' }, 1);
      throw new Error('state change failed');
    }),
  ).toThrow('state change failed');
  await nextTurn();
  expect(wakes).toBe(0);
  db.write((c) => {
    appendEvent(c, { topic: 't', type: 'a' }, 2);
    appendEvent(c, { topic: 't', type: 'b' }, 3);
  });
  await nextTurn();
  expect(wakes).toBe(1);
  // Another file's listeners are not woken by this one's commits.
  let otherFile = 0;
  cleanups.push(onEventsCommitted(path.join(dir, 'elsewhere.sqlite3'), () => otherFile++));
  db.write((c) => appendEvent(c, { topic: 't', type: 'c' }, 4));
  await nextTurn();
  expect([wakes, otherFile]).toEqual([2, 0]);
});

it('a transaction still open when the append returns wakes the tail once it commits', async () => {
  const db = open();
  const got = await startTail(db, { watchWal: false, fallbackPollMs: NEVER_MS });
  // A hand-written transaction that outlives the microtask after appendEvent.
  db.conn.exec('BEGIN IMMEDIATE');
  appendEvent(db.conn, { topic: 't', type: 'a' }, 1);
  // Long enough for several of the wake's re-checks of the still-open transaction (every 5 ms).
  await new Promise((r) => setTimeout(r, 30));
  expect(got).toEqual([]);
  db.conn.exec('COMMIT');
  await waitFor(() => got.length === 1, { timeoutMs: 10_000, what: 'the wake after COMMIT' });
  expect(seqs(got)).toEqual([1]);
});

it('another process’s commits reach a watching tail through the -wal hint, each once, in order', async () => {
  const db = open();
  const got = await startTail(db, { watchWal: true, fallbackPollMs: NEVER_MS });
  expect(tails[0].watching).toBe(true);
  const exited = otherProcessAppends(100);
  // Interleaved with this process's own commits: both paths, no event twice, none missed.
  for (let i = 0; i < 20; i++) db.write((c) => appendEvent(c, { topic: 'own', type: 'y' }, 2));
  expect(await exited).toBe(0);
  await waitFor(() => got.length === 120, { timeoutMs: 20_000, what: 'all 120 events' });
  expect(seqs(got)).toEqual(oneTo(120));
  expect(tails[0].poll()).toBe(0);
});

it('without a watch, the fallback poll delivers every other-process commit', async () => {
  const db = open();
  const got = await startTail(db, { watchWal: false, fallbackPollMs: 25 });
  expect(tails[0].watching).toBe(false);
  expect(await otherProcessAppends(50)).toBe(0);
  await waitFor(() => got.length === 50, { timeoutMs: 20_000, what: 'all 50 events by polling' });
  expect(seqs(got)).toEqual(oneTo(50));
});

it('the -wal hint: waits for a missing file, fires on writes, and lets go when the file is replaced', async () => {
  const file = path.join(dir, 'hinted.sqlite3');
  const wal = `${file}-wal`;
  let hints = 0;
  const hint = new WalHint(file, () => hints++);
  cleanups.push(() => hint.close());
  expect(hint.ensure(0)).toBe(false); // no -wal file yet
  fs.writeFileSync(wal, '');
  expect(hint.ensure(1)).toBe(false); // retried at most once a second
  expect(hint.ensure(2_000)).toBe(true);
  expect(hint.watching).toBe(true);
  fs.appendFileSync(wal, 'frame');
  await waitFor(() => hints >= 1, { timeoutMs: 10_000, what: 'a hint for the write' });
  fs.rmSync(wal);
  await waitFor(() => !hint.watching, { timeoutMs: 10_000, what: 'the watch dropped with the file' });
  fs.writeFileSync(wal, '');
  expect(hint.ensure(10_000)).toBe(true);
  const before = hints;
  fs.appendFileSync(wal, 'frame');
  await waitFor(() => hints > before, { timeoutMs: 10_000, what: 'a hint from the new file' });
});
