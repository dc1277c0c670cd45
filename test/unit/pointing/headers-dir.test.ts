// pendingFromDir (the incomingDir fallback): the size map it keeps between polls only holds files still
// listed and inside the window, so months of polling do not grow it without bound.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pendingFromDir } from '../../../daemons/pointing-monitor/headers.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir = '';
afterEach(() => removeTmpDir(dir));

describe('pendingFromDir', () => {
  it('forgets files that vanished or fell out of the window', () => {
    dir = makeTmpDir('contimg-pending-dir-');
    const a = path.join(dir, '2025-10-02T00:00:00_sb00.hdf5');
    const b = path.join(dir, '2025-10-02T00:05:09_sb00.hdf5');
    fs.writeFileSync(a, 'x');
    fs.writeFileSync(b, 'y');
    const sizes = new Map<string, number>();
    const since = Date.parse('2025-10-01T00:00:00Z');
    expect(pendingFromDir(dir, since, sizes)).toEqual([]);
    expect(pendingFromDir(dir, since, sizes).map((p) => p.path)).toEqual([a, b]);
    fs.rmSync(a);
    pendingFromDir(dir, since, sizes);
    expect([...sizes.keys()]).toEqual([b]);
    pendingFromDir(dir, Date.parse('2025-10-03T00:00:00Z'), sizes);
    expect(sizes.size).toBe(0);
  });
});
