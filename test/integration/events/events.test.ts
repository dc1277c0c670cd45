// lib/events: append inside the caller's transaction, keyset pagination, and a tail woken by data_version
// that delivers writes from another connection and from its own connection exactly once, in order.
import { fork } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDb, type Db } from '../../../lib/db/index.js';
import { DbBusyError } from '../../../lib/errors.js';
import {
  appendEvent,
  EventTail,
  maxEventSeq,
  readEventsAfter,
  type EventRow,
} from '../../../lib/events/index.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let dbs: Db[] = [];
let statePath: string;
beforeEach(async () => {
  dir = makeTmpDir();
  statePath = (await freshDatabases(dir)).statePath;
});
afterEach(() => {
  for (const d of dbs) d.close();
  dbs = [];
  removeTmpDir(dir);
});

function open(withReader = false): Db {
  const d = openDb({ name: 'state', path: statePath, withReader });
  dbs.push(d);
  return d;
}

it('commits and rolls back with the caller’s transaction', () => {
  const db = open();
  const seq = db.write((c) => appendEvent(c, { topic: 't', type: 'a', payload: { x: 1 } }, 1000));
  expect(seq).toBe(1);
  expect(() =>
    db.write((c) => {
      appendEvent(c, { topic: 't', type: 'b' }, 1001);
      throw new Error('state change failed');
    }),
  ).toThrow('state change failed');
  const rows = db.read((c) => readEventsAfter(c, 0, { limit: 10 }));
  expect(rows).toEqual([{ seq: 1, topic: 't', type: 'a', payload: { x: 1 }, createdAt: 1000 }]);
});

it('pages by seq and filters by topic', () => {
  const db = open();
  db.write((c) => {
    for (let i = 0; i < 25; i++)
      appendEvent(c, { topic: i % 2 ? 'odd' : 'even', type: 'n', payload: { i } }, i);
  });
  const seen: number[] = [];
  let after = 0;
  for (;;) {
    const page = db.read((c) => readEventsAfter(c, after, { topics: ['odd'], limit: 4 }));
    if (page.length === 0) break;
    seen.push(...page.map((e) => (e.payload as { i: number }).i));
    after = page[page.length - 1].seq;
  }
  expect(seen).toEqual(Array.from({ length: 12 }, (_, k) => 2 * k + 1));
  expect(db.read((c) => maxEventSeq(c))).toBe(25);
});

it.each([
  ['a separate reader connection', true],
  ['the writer connection only', false],
])(
  'tails writes from its own connection and another process, each once, in order (%s)',
  async (_, withReader) => {
    const db = open(withReader);
    const got: EventRow[] = [];
    const tail = new EventTail({ db, pollMs: 20, batch: 7, onEvents: (evs) => got.push(...evs) });
    tail.start();
    try {
      db.write((c) => appendEvent(c, { topic: 'own', type: 'x' }, 1));
      await waitFor(() => got.length === 1, { what: 'own write' });
      // Another process appends 100 events in separate transactions while we also write.
      const writer = fork(path.join(REPO_ROOT, 'test/integration/events/writer.ts'), [statePath, '100'], {
        execArgv: ['--import', 'tsx'],
      });
      for (let i = 0; i < 20; i++) db.write((c) => appendEvent(c, { topic: 'own', type: 'y' }, 2));
      await new Promise((resolve) => writer.once('exit', resolve));
      expect(writer.exitCode).toBe(0);
      await waitFor(() => got.length === 121, { what: 'all 121 events' });
      expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 121 }, (_, i) => i + 1));
      expect(tail.lastSeq).toBe(121);
      expect(tail.poll()).toBe(0);
    } finally {
      tail.stop();
    }
  },
);

it('starts after the current max by default, or from a given seq', () => {
  const db = open();
  db.write((c) => {
    for (let i = 0; i < 3; i++) appendEvent(c, { topic: 't', type: 'x' }, i);
  });
  const a: number[] = [];
  const b: number[] = [];
  new EventTail({ db, onEvents: (e) => a.push(...e.map((x) => x.seq)) }).poll();
  new EventTail({ db, fromSeq: 1, onEvents: (e) => b.push(...e.map((x) => x.seq)) }).poll();
  expect(a).toEqual([]);
  expect(b).toEqual([2, 3]);
});

it('retries a failed tail read on the next poll even when nothing else commits', () => {
  const db = open(true);
  const seen: number[] = [];
  const tail = new EventTail({ db, onEvents: (evs) => seen.push(...evs.map((e) => e.seq)) });
  db.write((c) => appendEvent(c, { topic: 't', type: 'a' }, 1));
  // The read fails once (as a busy or I/O error would); the next poll must read again.
  const read = db.read.bind(db);
  let fail = true;
  db.read = ((fn) => {
    if (fail) {
      fail = false;
      throw new DbBusyError('injected busy read');
    }
    return read(fn);
  }) as Db['read'];
  expect(() => tail.poll()).toThrow(DbBusyError);
  expect(tail.poll()).toBe(1);
  expect(seen).toEqual([1]);
});
