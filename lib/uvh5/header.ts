// Read the UVH5 header fields the daemons need with h5wasm (HDF5 compiled to WebAssembly, Node build).
// The h5wasm pitfalls (docs/streaming-converter.md) shape this file:
//  - a failed open does NOT throw: it returns a handle with file_id -1n whose get() yields bogus groups, so
//    the id is checked straight after opening and close() is never called on it;
//  - the library's throwing error handler leaks one descriptor per failed open, so the default handler is
//    kept, and the HDF5-DIAG text it prints is captured into a private file instead of the daemon's stderr;
//  - integer scalars arrive as BigInt and are converted; freq_array may be (Nfreqs) or (1, Nfreqs).
// Every file first passes the plain-TS superblock check, so files being written or truncated never reach
// the library at all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pid } from 'node:process';
import h5wasm, { FS } from 'h5wasm/node';
import { PermanentError } from '../errors.js';
import { checkSuperblock, type SuperblockResult } from './superblock.js';
import type { Uvh5Header } from './types.js';

// Top-level await: importing this module loads the wasm once (≈60 ms), after which reads are synchronous.
await h5wasm.ready;

export type Uvh5Reason = SuperblockResult['reason'] | 'bad_hdf5' | 'not_uvh5' | 'header_mismatch';

export type Uvh5Inspection =
  | { ok: true; header: Uvh5Header; superblock: SuperblockResult }
  | { ok: false; reason: Exclude<Uvh5Reason, 'ok'>; detail: string; superblock: SuperblockResult };

interface StreamLike {
  nfd: number;
}

let captureFd: number | undefined;

/** A private, already-unlinked file that receives HDF5-DIAG text while h5wasm works on a file. */
function diagFd(): number {
  if (captureFd === undefined) {
    const p = path.join(os.tmpdir(), `contimg-h5diag-${pid}-${Date.now()}`);
    captureFd = fs.openSync(p, 'a+');
    fs.unlinkSync(p);
  }
  return captureFd;
}

/** Run fn with the wasm module's stderr (fd 2 in its file table) pointed at the capture file. */
function withDiagCaptured<T>(fn: () => T): { value: T; diag: string } {
  const stream = (FS as unknown as { getStream(fd: number): StreamLike | null }).getStream(2);
  const fd = diagFd();
  const saved = stream?.nfd;
  if (stream) stream.nfd = fd;
  try {
    return { value: fn(), diag: takeDiag(fd) };
  } finally {
    if (stream && saved !== undefined) stream.nfd = saved;
  }
}

function takeDiag(fd: number): string {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return '';
  const buf = Buffer.alloc(Math.min(size, 4096));
  fs.readSync(fd, buf, 0, buf.length, 0);
  fs.ftruncateSync(fd, 0);
  const lines = buf.toString('utf8').split('\n');
  return (lines.find((l) => l.includes('minor:')) ?? lines[0] ?? '').trim();
}

function toNumber(v: unknown): number | null {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<unknown>).length > 0)
    return toNumber((v as unknown as ArrayLike<unknown>)[0]);
  if (Array.isArray(v) && v.length > 0) return toNumber(v[0]);
  return null;
}

function toNumbers(v: unknown): number[] {
  if (v === null || v === undefined) return [];
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => Number(x));
  if (Array.isArray(v)) return v.flat(Infinity).map((x) => Number(x));
  const n = toNumber(v);
  return n === null ? [] : [n];
}

type Group = InstanceType<typeof h5wasm.Group>;
type Dataset = InstanceType<typeof h5wasm.Dataset>;

/** A group with its member names listed once: keys() is the costliest call in a header read. */
interface Listed {
  group: Group;
  names: Set<string>;
}

function listed(group: Group): Listed {
  return { group, names: new Set(group.keys()) };
}

function dataset(g: Listed, name: string): Dataset | null {
  if (!g.names.has(name)) return null;
  const e = g.group.get(name);
  return e instanceof h5wasm.Dataset ? e : null;
}

function scalarOf(g: Listed, name: string): number | null {
  return toNumber(dataset(g, name)?.value ?? null);
}

/** The first element only (integration_time is per baseline-time; one value is enough). */
function firstOf(g: Listed, name: string): number | null {
  const d = dataset(g, name);
  if (!d) return null;
  return toNumber(d.shape && d.shape.length > 0 ? d.slice([[0, 1]]) : d.value);
}

function stringOf(g: Listed, name: string): string | null {
  const v = dataset(g, name)?.value;
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return null;
}

function extraKeywords(header: Listed): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  if (!header.names.has('extra_keywords')) return out;
  const e = header.group.get('extra_keywords');
  if (!(e instanceof h5wasm.Group)) return out;
  const ek = listed(e);
  for (const k of ek.names) {
    const d = dataset(ek, k);
    if (!d || (d.shape !== null && d.shape.length > 0)) continue;
    const v = d.value;
    if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') out[k] = v;
    else if (typeof v === 'bigint') out[k] = Number(v);
  }
  return out;
}

class HeaderProblem extends Error {
  constructor(
    readonly reason: 'not_uvh5' | 'header_mismatch',
    message: string,
  ) {
    super(message);
  }
}

function required(header: Listed, name: string): number {
  const v = scalarOf(header, name);
  if (v === null || !Number.isFinite(v)) throw new HeaderProblem('not_uvh5', `Header/${name} missing`);
  return v;
}

function uniqueSorted(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Build the header from an open file. Throws HeaderProblem for a file that is HDF5 but not usable UVH5. */
function headerFrom(file: InstanceType<typeof h5wasm.File>, filePath: string): Uvh5Header {
  const root = file.get('Header');
  if (!(root instanceof h5wasm.Group)) throw new HeaderProblem('not_uvh5', 'no Header group');
  const header = listed(root);
  const nblts = required(header, 'Nblts');
  const ntimes = required(header, 'Ntimes');
  const nfreqs = required(header, 'Nfreqs');
  const times = toNumbers(dataset(header, 'time_array')?.value ?? null);
  if (times.length === 0) throw new HeaderProblem('not_uvh5', 'Header/time_array missing or empty');
  if (times.length !== nblts)
    throw new HeaderProblem('header_mismatch', `time_array has ${times.length} values, Nblts is ${nblts}`);
  const freqs = toNumbers(dataset(header, 'freq_array')?.value ?? null);
  if (freqs.length !== nfreqs)
    throw new HeaderProblem('header_mismatch', `freq_array has ${freqs.length} values, Nfreqs is ${nfreqs}`);
  const extra = extraKeywords(header);
  const dec =
    typeof extra.phase_center_dec === 'number'
      ? extra.phase_center_dec
      : scalarOf(header, 'phase_center_dec');
  return {
    path: filePath,
    nblts,
    ntimes,
    nfreqs,
    nbls: scalarOf(header, 'Nbls'),
    nspws: scalarOf(header, 'Nspws'),
    npols: scalarOf(header, 'Npols'),
    timesJd: uniqueSorted(times),
    freqsHz: freqs,
    integrationTimeS: firstOf(header, 'integration_time'),
    telescopeName: stringOf(header, 'telescope_name'),
    phaseCenterDecRad: dec,
    haPhaseCenterRad: typeof extra.ha_phase_center === 'number' ? extra.ha_phase_center : null,
    extraKeywords: extra,
  };
}

/**
 * Superblock check, then the h5wasm header read. Never throws for a bad file (the result says why) and
 * never leaks a descriptor or prints HDF5-DIAG to the process's stderr.
 */
export function inspectUvh5(filePath: string): Uvh5Inspection {
  const abs = path.resolve(filePath);
  const sb = checkSuperblock(abs);
  if (!sb.ok)
    return {
      ok: false,
      reason: sb.reason as Exclude<Uvh5Reason, 'ok'>,
      detail: sb.detail ?? sb.reason,
      superblock: sb,
    };
  const { value, diag } = withDiagCaptured(() => {
    const file = new h5wasm.File(abs, 'r');
    if (!(file.file_id > 0n)) return { kind: 'bad' as const };
    try {
      return { kind: 'ok' as const, header: headerFrom(file, abs) };
    } catch (e) {
      if (e instanceof HeaderProblem)
        return { kind: 'problem' as const, reason: e.reason, detail: e.message };
      return { kind: 'problem' as const, reason: 'bad_hdf5' as const, detail: (e as Error).message };
    } finally {
      file.close();
    }
  });
  if (value.kind === 'ok') return { ok: true, header: value.header, superblock: sb };
  if (value.kind === 'bad')
    return {
      ok: false,
      reason: 'bad_hdf5',
      detail: diag || 'h5wasm could not open the file',
      superblock: sb,
    };
  return { ok: false, reason: value.reason, detail: value.detail, superblock: sb };
}

/** The header of a finished UVH5 file; throws PermanentError (code UVH5_<REASON>) when it is not one. */
export function readUvh5Header(filePath: string): Uvh5Header {
  const r = inspectUvh5(filePath);
  if (r.ok) return r.header;
  throw new PermanentError(`${filePath}: ${r.reason}: ${r.detail}`, {
    code: `UVH5_${r.reason.toUpperCase()}`,
    details: {
      path: filePath,
      reason: r.reason,
      retryable: r.reason === 'open_for_write' || r.reason === 'unreadable',
    },
  });
}
