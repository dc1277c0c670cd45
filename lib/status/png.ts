// A thumbnail's PNG by its thumbnails row id: the file is the row's png_path, which only the thumbnail worker
// writes, and it is served only when its real path lies inside thumbnailWorker.outputDir, it is a regular
// file (opened without following a final symlink, non-blocking) of sane size, and it starts with the PNG
// signature. Nothing from the request ever becomes part of a path.
import fs from 'node:fs';
import path from 'node:path';
import { getRow } from '../../daemons/thumbnail-worker/store.js';
import type { Db } from '../db/index.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { RawResponse } from '../http/index.js';
import { SECURITY_HEADERS } from './assets.js';

/** A thumbnail is at most a few hundred kB; anything far larger is not one of ours. */
export const MAX_PNG_BYTES = 32 * 1024 * 1024;
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A row id from the URL: a positive safe integer, else a 400. */
export function rowId(text: string): number {
  const id = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id))
    throw new ValidationError('id must be a thumbnail row id (a positive integer)');
  return id;
}

async function realOrNull(p: string): Promise<string | null> {
  try {
    return await fs.promises.realpath(p);
  } catch {
    return null;
  }
}

/** Whether `child` is `dir` itself or below it (both already real paths). */
function inside(dir: string, child: string): boolean {
  const rel = path.relative(dir, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export async function thumbnailPng(state: Db, outputDir: string, idText: string): Promise<RawResponse> {
  const id = rowId(idText);
  const row = state.read((c) => getRow(c, id));
  if (!row || row.status !== 'done' || !row.png_path) throw new NotFoundError(`no rendered thumbnail ${id}`);
  const [dir, real] = await Promise.all([realOrNull(outputDir), realOrNull(row.png_path)]);
  // A row pointing anywhere else (a tampered row, a moved outputDir) is answered as if it did not exist.
  if (dir === null || real === null || !inside(dir, real))
    throw new NotFoundError(`no rendered thumbnail ${id}`);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(
      real,
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
    );
  } catch {
    throw new NotFoundError(`no rendered thumbnail ${id}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_PNG_BYTES) throw new NotFoundError(`no rendered thumbnail ${id}`);
    const body = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(body, 0, st.size, 0);
    if (bytesRead !== st.size || !body.subarray(0, 8).equals(SIGNATURE))
      throw new NotFoundError(`thumbnail ${id} is not a complete PNG`);
    return new RawResponse(
      200,
      {
        ...SECURITY_HEADERS,
        'content-type': 'image/png',
        // The page asks with ?v=<row version>: a re-render is a new URL, so a cached copy is never stale.
        'cache-control': 'private, max-age=86400',
      },
      body,
    );
  } finally {
    await fh.close();
  }
}
