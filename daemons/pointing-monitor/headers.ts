// Where new sb00 headers come from: the streaming converter's hdf5_files index (valid sb00 rows whose
// group has no observation yet), or, when that table is empty and incomingDir is configured, the folder
// itself (a file counts once its size has stayed the same for two polls). Reading is h5wasm via lib/uvh5,
// loaded on first use (lib/uvh5/reader.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Dut1Input, Site } from '../../lib/astro/index.js';
import { cachedStatement, type Connection } from '../../lib/db/index.js';
import { ContimgError } from '../../lib/errors.js';
import type { HeaderReader } from '../../lib/uvh5/reader.js';
import { pointingFromHeader, type HeaderPointing } from '../../lib/uvh5/pointing.js';

export interface PendingHeader {
  groupId: string;
  path: string;
  tsMs: number;
}

const SB00 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)_sb00\.hdf5$/;

// Cached (prepared once per connection); CAST, not a bare `LIMIT ?`, which SQLite re-prepares on every
// binding because it plans with the LIMIT's value.
const PENDING = `SELECT h.ts_name AS groupId, h.path AS path, h.ts_ms AS tsMs FROM hdf5_files h
  WHERE h.subband = 0 AND h.state = 'valid' AND h.ts_ms >= ?
    AND NOT EXISTS (SELECT 1 FROM pointing_observations o WHERE o.group_id = h.ts_name)
  ORDER BY h.ts_ms LIMIT CAST(? AS INTEGER)`;

export function pendingFromIndex(conn: Connection, sinceMs: number, limit: number): PendingHeader[] {
  return cachedStatement(conn, PENDING).all(sinceMs, limit) as PendingHeader[];
}

export function indexIsEmpty(conn: Connection): boolean {
  return cachedStatement(conn, 'SELECT 1 FROM hdf5_files LIMIT 1').get() === undefined;
}

/** Settled `*_sb00.hdf5` files in dir named at or after sinceMs; `sizes` carries sizes between polls. */
export function pendingFromDir(dir: string, sinceMs: number, sizes: Map<string, number>): PendingHeader[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: PendingHeader[] = [];
  // Only files still listed and inside the window keep an entry: the map must not grow with every file ever seen.
  const live = new Set<string>();
  for (const name of names) {
    const m = SB00.exec(name);
    if (!m) continue;
    const tsMs = Date.parse(`${m[1]}Z`);
    if (!Number.isFinite(tsMs) || tsMs < sinceMs) continue;
    const p = path.join(dir, name);
    let size: number;
    try {
      size = fs.statSync(p).size;
    } catch {
      continue;
    }
    const prev = sizes.get(p);
    sizes.set(p, size);
    live.add(p);
    if (prev === size && size > 0) out.push({ groupId: m[1], path: p, tsMs });
  }
  for (const p of sizes.keys()) if (!live.has(p)) sizes.delete(p);
  return out.sort((a, b) => a.tsMs - b.tsMs);
}

export type ReadOutcome =
  | { result: 'ok'; pointing: HeaderPointing & { decDeg: number } }
  | { result: 'rejected' | 'error'; detail: string; retryable: boolean };

/** Read one header and derive its pointing; never throws. A header without a declination is rejected. */
export function readPointing(
  reader: HeaderReader,
  file: string,
  opts: { nowMs: number; site: Site; dut1: Dut1Input },
): ReadOutcome {
  let header;
  try {
    header = reader.readUvh5Header(file);
  } catch (e) {
    const retryable =
      e instanceof ContimgError && (e.details as { retryable?: boolean } | undefined)?.retryable === true;
    return { result: 'error', detail: (e as Error).message, retryable };
  }
  const r = pointingFromHeader(header, opts);
  if (!r.ok) return { result: 'rejected', detail: `${r.reason}: ${r.detail}`, retryable: false };
  if (r.pointing.decDeg === null)
    return { result: 'rejected', detail: r.pointing.pointingNote ?? 'no declination', retryable: false };
  return { result: 'ok', pointing: r.pointing as HeaderPointing & { decDeg: number } };
}
