import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HDF5_SIGNATURE, parseSuperblock } from '../../../lib/uvh5/superblock.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';

/** Build a superblock of the given version with 8-byte offsets; returns the first 96 bytes. */
function superblock(version: number, opts: { flags?: number; eof: bigint; base?: bigint }): Buffer {
  const b = Buffer.alloc(96);
  HDF5_SIGNATURE.copy(b, 0);
  b[8] = version;
  if (version <= 1) {
    b[13] = 8;
    b[14] = 8;
    b.writeUInt32LE(opts.flags ?? 0, 20);
    const base = version === 0 ? 24 : 28;
    b.writeBigUInt64LE(opts.base ?? 0n, base);
    b.writeBigUInt64LE(0xffffffffffffffffn, base + 8);
    b.writeBigUInt64LE(opts.eof, base + 16);
  } else {
    b[9] = 8;
    b[10] = 8;
    b[11] = opts.flags ?? 0;
    b.writeBigUInt64LE(opts.base ?? 0n, 12);
    b.writeBigUInt64LE(0xffffffffffffffffn, 20);
    b.writeBigUInt64LE(opts.eof, 28);
  }
  return b;
}

describe('parseSuperblock', () => {
  it.each([
    ['v0 closed, EOF == size', 0, { eof: 1000n }, 1000, 'ok'],
    ['v1 closed', 1, { eof: 4096n }, 4096, 'ok'],
    ['v2 closed', 2, { eof: 77800n }, 77800, 'ok'],
    ['v3 closed', 3, { eof: 77800n }, 77800, 'ok'],
    ['v0 open by a writer', 0, { flags: 1, eof: 2048n }, 9000, 'open_for_write'],
    ['v3 SWMR writer', 3, { flags: 5, eof: 2048n }, 2048, 'open_for_write'],
    ['v0 truncated copy', 0, { eof: 86444n }, 20000, 'truncated'],
    ['v2 grown past EOF', 2, { eof: 100n }, 200, 'truncated'],
    ['v2 undefined EOF', 2, { eof: 0xffffffffffffffffn }, 200, 'truncated'],
    ['version 7', 7, { eof: 10n }, 10, 'unsupported_version'],
  ] as const)('%s → %s', (_name, version, opts, size, reason) => {
    const r = parseSuperblock(superblock(version, opts), 0, size);
    expect(r.reason).toBe(reason);
    expect(r.ok).toBe(reason === 'ok');
  });

  it('adds the user-block offset when the base address is 0', () => {
    expect(parseSuperblock(superblock(0, { eof: 1000n }), 512, 1512).ok).toBe(true);
    expect(parseSuperblock(superblock(0, { eof: 1512n, base: 0n }), 512, 1512).ok).toBe(false);
  });
});

describe('checkSuperblock on a file that is not regular', () => {
  it('a FIFO (swapped in after the intake looked) is unreadable at once, never a blocked open', () => {
    const dir = makeTmpDir('contimg-fifo-');
    try {
      const fifo = path.join(dir, '2025-06-01T12:00:00_sb00.hdf5');
      execFileSync('mkfifo', [fifo]);
      // In a child: a blocking open() would hang it (and could not be interrupted in this process).
      const script = `import { checkSuperblock } from './lib/uvh5/superblock.ts';
        process.stdout.write(JSON.stringify(checkSuperblock(${JSON.stringify(fifo)})));`;
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: REPO_ROOT,
        timeout: 20_000,
        encoding: 'utf8',
      });
      expect(JSON.parse(out)).toMatchObject({
        ok: false,
        reason: 'unreadable',
        detail: 'not a regular file',
      });
    } finally {
      removeTmpDir(dir);
    }
  });
});
