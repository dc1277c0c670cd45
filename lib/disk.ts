// Free space as an unprivileged writer sees it: the disk gates of the converter and the thumbnail worker.
import fs from 'node:fs';

/** Free bytes on the file system holding `p` that a non-root process may use (statfs's bavail). */
export function statfsFree(p: string): number {
  const s = fs.statfsSync(p);
  return s.bavail * s.bsize;
}
