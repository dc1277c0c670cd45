// A real small file system for full-disk tests: tmpfs mounted by the test (tests run as root, as CI does).
// A test that needs it fails when mount fails; it never skips.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function mountTmpfs(dir: string, bytes: number): string {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir]);
  return dir;
}

export function unmountTmpfs(dir: string): void {
  if (!fs.existsSync(dir)) return;
  try {
    execFileSync('umount', ['-l', dir]);
  } catch {
    /* not mounted (the test failed before mounting) */
  }
}

/** Fill the file system at dir until fewer than `leave` bytes are free; returns the filler's path. */
export function fillDisk(dir: string, leave = 0, name = 'filler.bin'): string {
  const p = path.join(dir, name);
  const fd = fs.openSync(p, 'a');
  const block = Buffer.alloc(4096, 0x5a);
  try {
    for (;;) {
      const s = fs.statfsSync(dir);
      const free = s.bavail * s.bsize;
      if (free <= leave) break;
      const n = Math.min(block.length, free - leave);
      try {
        fs.writeSync(fd, block, 0, n);
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOSPC') break;
        throw e;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return p;
}

export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}
