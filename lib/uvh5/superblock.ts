// A plain-TypeScript HDF5 superblock check: how a file still being written, or a truncated copy, is told
// apart from a finished one without handing it to the HDF5 library (which prints diagnostics or leaks a
// descriptor on bad input). Layout: the HDF5 File Format Specification's superblock (versions 0–3).
import fs from 'node:fs';

export const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

export type SuperblockReason =
  'ok' | 'empty' | 'not_hdf5' | 'unsupported_version' | 'open_for_write' | 'truncated' | 'unreadable';

export interface SuperblockResult {
  ok: boolean;
  reason: SuperblockReason;
  /** Byte offset of the signature (0, 512, 1024, …: a user block may precede it). */
  offset?: number;
  version?: number;
  /** File consistency flags: non-zero while a writer has the file open (or crashed without closing). */
  flags?: number;
  /** The end-of-file address recorded in the superblock, absolute (base address added). */
  eofAddress?: number;
  size: number;
  detail?: string;
}

const UNDEFINED_ADDRESS = 0xffffffffffffffffn;

function readUint(buf: Buffer, at: number, width: number): bigint {
  if (width === 8) return buf.readBigUInt64LE(at);
  if (width === 4) return BigInt(buf.readUInt32LE(at));
  if (width === 2) return BigInt(buf.readUInt16LE(at));
  throw new Error(`unsupported field width ${width}`);
}

/** Signature positions the library searches: 0, then powers of two from 512 up to the file size. */
function signatureOffsets(size: number): number[] {
  const out = [0];
  for (let o = 512; o + 8 <= size; o *= 2) out.push(o);
  return out;
}

/** Parse a superblock that starts at `buf[0]` (the signature). Pure: used on bytes read from disk. */
export function parseSuperblock(buf: Buffer, offset: number, size: number): SuperblockResult {
  const version = buf[8];
  let flags: number;
  let sizeOfOffsets: number;
  let baseAt: number;
  if (version === 0 || version === 1) {
    sizeOfOffsets = buf[13];
    flags = buf.readUInt32LE(20);
    baseAt = version === 0 ? 24 : 28;
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = buf[9];
    flags = buf[11];
    baseAt = 12;
  } else {
    return { ok: false, reason: 'unsupported_version', offset, version, size };
  }
  if (![2, 4, 8].includes(sizeOfOffsets) || baseAt + 3 * sizeOfOffsets > buf.length) {
    return {
      ok: false,
      reason: 'not_hdf5',
      offset,
      version,
      size,
      detail: `size of offsets ${sizeOfOffsets}`,
    };
  }
  const base = readUint(buf, baseAt, sizeOfOffsets);
  // v0/v1: base, free-space, EOF; v2/v3: base, superblock extension, EOF.
  const eofRel = readUint(buf, baseAt + 2 * sizeOfOffsets, sizeOfOffsets);
  if (eofRel === UNDEFINED_ADDRESS) {
    return { ok: false, reason: 'truncated', offset, version, flags, size, detail: 'EOF address undefined' };
  }
  // A file with a user block may record base 0 (addresses relative to the signature) or the block size.
  const eofAbs = Number(base === 0n && offset > 0 ? eofRel + BigInt(offset) : eofRel + base);
  if (flags !== 0)
    return { ok: false, reason: 'open_for_write', offset, version, flags, eofAddress: eofAbs, size };
  if (eofAbs !== size) {
    return {
      ok: false,
      reason: 'truncated',
      offset,
      version,
      flags,
      eofAddress: eofAbs,
      size,
      detail: `superblock EOF address ${eofAbs} != file size ${size}`,
    };
  }
  return { ok: true, reason: 'ok', offset, version, flags, eofAddress: eofAbs, size };
}

/** Check a file on disk. Never throws: an unreadable file is a result, not an exception. */
export function checkSuperblock(path: string): SuperblockResult {
  let fd: number | undefined;
  try {
    // Non-blocking, then refuse anything but a regular file: a FIFO swapped in after the caller's stat must
    // not block the event loop in open() or read().
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { ok: false, reason: 'unreadable', size: -1, detail: 'not a regular file' };
    const size = st.size;
    if (size === 0) return { ok: false, reason: 'empty', size };
    const buf = Buffer.alloc(96);
    for (const offset of signatureOffsets(size)) {
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      if (n >= 8 && buf.subarray(0, 8).equals(HDF5_SIGNATURE)) {
        if (n < 48) return { ok: false, reason: 'truncated', offset, size, detail: 'superblock cut short' };
        return parseSuperblock(buf.subarray(0, n), offset, size);
      }
    }
    return { ok: false, reason: 'not_hdf5', size, detail: 'no HDF5 signature' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, reason: 'unreadable', size: -1, detail: code };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
