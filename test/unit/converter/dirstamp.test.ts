// The directory check behind "skip the listing when nothing changed": a stamp (dev, inode, mtime, ctime)
// taken before each listing; racy stamps, changes the watcher accounted for, changes it did not, and a
// replaced directory. Real directories, mtimes set with utimes.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirChanges, isRacy, RACY_MS, readStamp } from '../../../daemons/streaming-converter/dirstamp.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let root: string;
afterEach(() => removeTmpDir(root));

/** A directory whose mtime is `ageMs` in the past (not racy when ageMs > RACY_MS). */
function agedDir(ageMs: number): string {
  root = makeTmpDir('contimg-dirstamp-');
  const dir = path.join(root, 'incoming');
  fs.mkdirSync(dir);
  const t = new Date(Date.now() - ageMs);
  fs.utimesSync(dir, t, t);
  return dir;
}

function listed(c: DirChanges, events = 0): void {
  c.listingDone(c.listingStarts(Date.now(), events));
}

describe('DirChanges', () => {
  it('an untouched directory is unchanged; a new entry is unexplained without a watcher', () => {
    const dir = agedDir(60_000);
    const c = new DirChanges(dir);
    expect(c.check(Date.now(), { healthy: false, events: 0 })).toBe('unexplained'); // never listed
    listed(c);
    expect(c.check(Date.now(), { healthy: false, events: 0 })).toBe('unchanged');
    fs.writeFileSync(path.join(dir, 'new'), '');
    expect(c.check(Date.now(), { healthy: false, events: 0 })).toBe('unexplained');
  });

  it('writing into an existing file does not change the stamp (files are verified by the reconcile)', () => {
    const dir = agedDir(60_000);
    fs.writeFileSync(path.join(dir, 'f'), 'a');
    const t = new Date(Date.now() - 60_000);
    fs.utimesSync(dir, t, t);
    const c = new DirChanges(dir);
    listed(c);
    fs.appendFileSync(path.join(dir, 'f'), 'more');
    expect(c.check(Date.now(), { healthy: false, events: 0 })).toBe('unchanged');
  });

  it('a racy stamp proves nothing without a watcher; with a quiet watcher it is re-taken', () => {
    const dir = agedDir(0);
    const c = new DirChanges(dir);
    listed(c);
    expect(isRacy(readStamp(dir, Date.now())!)).toBe(true);
    expect(c.check(Date.now(), { healthy: false, events: 0 })).toBe('unexplained');
    expect(c.check(Date.now(), { healthy: true, events: 0 })).toBe('unchanged');
    // Long after the tick, the same stamp is trusted without a watcher too.
    expect(c.check(Date.now() + RACY_MS + 1000, { healthy: false, events: 0 })).toBe('unexplained');
    const later = new DirChanges(dir);
    later.listingDone(later.listingStarts(Date.now() + RACY_MS + 1000, 0));
    expect(later.check(Date.now() + RACY_MS + 2000, { healthy: false, events: 0 })).toBe('unchanged');
  });

  it('with a watcher: a change with events is hinted; without, pending once, then unexplained', () => {
    const dir = agedDir(60_000);
    const c = new DirChanges(dir);
    listed(c, 5);
    fs.writeFileSync(path.join(dir, 'a'), '');
    expect(c.check(Date.now(), { healthy: true, events: 6 })).toBe('hinted');
    expect(c.check(Date.now() + RACY_MS, { healthy: true, events: 6 })).toBe('unchanged');
    fs.writeFileSync(path.join(dir, 'b'), '');
    // The event may still be on its way: the next check decides.
    expect(c.check(Date.now(), { healthy: true, events: 6 })).toBe('pending');
    expect(c.check(Date.now(), { healthy: true, events: 7 })).toBe('hinted');
    fs.writeFileSync(path.join(dir, 'c'), '');
    expect(c.check(Date.now(), { healthy: true, events: 7 })).toBe('pending');
    expect(c.check(Date.now(), { healthy: true, events: 7 })).toBe('unexplained');
  });

  it('another directory at the path (or one that appears) is replaced', () => {
    const dir = agedDir(60_000);
    const c = new DirChanges(dir);
    listed(c);
    fs.renameSync(dir, `${dir}.old`);
    fs.mkdirSync(dir);
    expect(c.check(Date.now(), { healthy: true, events: 0 })).toBe('replaced');
    const absent = new DirChanges(path.join(root, 'missing'));
    listed(absent);
    expect(absent.check(Date.now(), { healthy: false, events: 0 })).toBe('unchanged');
    fs.mkdirSync(path.join(root, 'missing'));
    expect(absent.check(Date.now(), { healthy: false, events: 0 })).toBe('replaced');
  });
});
