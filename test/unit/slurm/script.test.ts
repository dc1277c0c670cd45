import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchScript, shQuote } from '../../../lib/slurm/index.js';
import { HOSTILE_ARGS } from '../../helpers/hostile.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

const PRINT_ARGV = [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))'];

describe('batch script', () => {
  let dir = '';
  afterEach(() => dir && removeTmpDir(dir));

  it('hands every hostile argument to the program byte-exact through /bin/sh', () => {
    dir = makeTmpDir();
    const script = path.join(dir, 'job.sh');
    fs.writeFileSync(script, batchScript([...PRINT_ARGV, ...HOSTILE_ARGS]));
    const out = execFileSync('/bin/sh', [script], {
      cwd: dir,
      encoding: 'utf8',
      env: { HOME: '/nowhere', PATH: '/usr/bin:/bin' },
    });
    expect(JSON.parse(out)).toEqual(HOSTILE_ARGS);
    // The shell is replaced: the script ends with the exec line, nothing runs after it.
    expect(batchScript(['x']).trimEnd().split('\n').at(-1)).toBe("exec 'x'");
  });

  it('quotes single quotes by closing, escaping and reopening', () => {
    expect(shQuote("a'b")).toBe(`'a'\\''b'`);
    expect(shQuote('')).toBe("''");
  });

  it('refuses what a shell word cannot carry', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
    expect(() => batchScript([])).toThrow(/empty/);
  });
});
