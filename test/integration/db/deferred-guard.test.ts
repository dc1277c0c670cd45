// A raw deferred read-then-write leaks SQLITE_BUSY* under contention; the same
// logic through db.write() (BEGIN IMMEDIATE) never does and loses no update. Plus the source rule that
// keeps the hazard out: no bare .transaction( outside lib/db.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../lib/db/index.js';
import { forkFixture, type Forked } from '../../fixtures/queue/fork.js';
import { createCounter, setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { REPO_ROOT } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

interface Report {
  mode: 'raw' | 'db';
  ok: number;
  codes: Record<string, number>;
}

let dir: string;
let file: string;
let db: Db;
const children: Forked<Report>[] = [];
beforeEach(async () => {
  ({ dir, file, db } = await setUpStateDb());
  createCounter(db, 0);
});
afterEach(() => tearDownStateDb({ dir, db }, children));

describe('deferred-transaction guard', () => {
  it('raw deferred read-then-write gets SQLITE_BUSY*, db.write gets none and loses nothing', async () => {
    const ROUNDS = '3000';
    for (const mode of ['raw', 'db', 'raw', 'db'])
      children.push(forkFixture<Report>('contention-child.ts', [file, mode, ROUNDS]));
    await waitFor(() => children.every((f) => f.messages.length > 0), { what: 'all children ready' });
    for (const f of children) f.child.send('go');
    const codes = await Promise.all(children.map((f) => f.exited));
    expect(codes, children.map((f) => f.stderr()).join('\n')).toEqual([0, 0, 0, 0]);
    const reports = children.map((f) => f.messages[1]);
    const raw = reports.filter((r) => r.mode === 'raw');
    const viaDb = reports.filter((r) => r.mode === 'db');

    const rawBusy = raw.flatMap((r) => Object.entries(r.codes)).filter(([c]) => c.startsWith('SQLITE_BUSY'));
    expect(rawBusy.reduce((s, [, n]) => s + n, 0)).toBeGreaterThan(0);
    for (const r of viaDb) {
      expect(r.codes).toEqual({});
      expect(r.ok).toBe(Number(ROUNDS));
    }
    // Every successful increment (raw or not) is in the counter: nothing was lost, only refused.
    const total = reports.reduce((s, r) => s + r.ok, 0);
    expect(db.read((c) => c.prepare('SELECT value FROM counter WHERE id = 1').get())).toEqual({
      value: total,
    });
  });

  it('no bare .transaction( outside lib/db (every write goes through db.write)', () => {
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(ts|js|mjs)$/.test(e.name) && /\.transaction\(/.test(fs.readFileSync(p, 'utf8')))
          offenders.push(p);
      }
    };
    for (const top of ['lib', 'daemons', 'cli'])
      if (fs.existsSync(path.join(REPO_ROOT, top))) walk(path.join(REPO_ROOT, top));
    expect(offenders.map((p) => path.relative(REPO_ROOT, p)).filter((p) => !p.startsWith('lib/db/'))).toEqual(
      [],
    );
  });
});
