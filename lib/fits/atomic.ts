// Atomic file replacement: write a temp file in the same folder, check every byte reached it, fsync it,
// rename over the target, fsync the folder. Readers see the old file or the new one, never a half-written
// PNG. write(2) may write fewer bytes than asked (a filling disk does exactly that before it says ENOSPC):
// the loop writes the rest, and a write that cannot make progress fails the whole write; the temp file is
// removed and nothing is renamed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Write all of data at offset 0 of fd; a short write continues, a write of 0 bytes is an error. */
function writeAll(fd: number, data: Uint8Array, file: string): void {
  let done = 0;
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done, done);
    if (n <= 0) {
      throw Object.assign(new Error(`ENOSPC: no progress writing ${file} at byte ${done}`), {
        code: 'ENOSPC',
        path: file,
      });
    }
    done += n;
  }
}

export function writeFileAtomic(target: string, data: Uint8Array): void {
  const dir = path.dirname(path.resolve(target));
  const tmp = path.join(dir, `.${path.basename(target)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    writeAll(fd, data, tmp);
    fs.fsyncSync(fd);
    // The size the file system reports after fsync is the size a reader will see.
    const size = fs.fstatSync(fd).size;
    if (size !== data.length)
      throw Object.assign(new Error(`${tmp}: ${size} bytes on disk, expected ${data.length}`), {
        code: 'EIO',
        path: tmp,
      });
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
