// A file's identity for caching and staleness: size, mtime (ns) and inode. Equal fingerprints mean "the same
// bytes" for our purposes; any change re-renders. mtime_ns exceeds 2^53, so it travels as a decimal string.
import fs from 'node:fs';
import { ioError } from './errors.js';

export interface Fingerprint {
  size: number;
  mtimeNs: string;
  ino: number;
  dev: number;
}

export function fingerprintOf(st: fs.BigIntStats): Fingerprint {
  return { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ino: Number(st.ino), dev: Number(st.dev) };
}

/** stat() a path; ENOENT → SOURCE_MISSING, other errors → IO_ERROR. */
export function statFingerprint(path: string): Fingerprint {
  try {
    return fingerprintOf(fs.statSync(path, { bigint: true }));
  } catch (e) {
    throw ioError(e, path);
  }
}

export function fstatFingerprint(fd: number, path: string): Fingerprint {
  try {
    return fingerprintOf(fs.fstatSync(fd, { bigint: true }));
  } catch (e) {
    throw ioError(e, path);
  }
}

/** A compact key: equal keys ⇔ equal fingerprints (dev is left out: it is not stable across remounts). */
export function fingerprintKey(fp: Fingerprint): string {
  return `${fp.size}-${fp.mtimeNs}-${fp.ino}`;
}

export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
}

/** mtime in ms since the epoch, for age checks. */
export function mtimeMs(fp: Fingerprint): number {
  return Number(BigInt(fp.mtimeNs) / 1_000_000n);
}

/**
 * Settled = the fingerprint has not moved since the previous look and the file has not been modified for
 * settleMs: a writer still appending would change size or mtime between looks.
 */
export function isSettled(
  fp: Fingerprint,
  prev: Fingerprint | undefined,
  settleMs: number,
  nowMs: number,
): boolean {
  if (nowMs - mtimeMs(fp) < settleMs) return false;
  return prev === undefined || sameFingerprint(fp, prev);
}
