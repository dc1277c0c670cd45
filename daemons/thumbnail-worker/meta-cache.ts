// FITS metadata for the API, by thumbnail row id: only images the daemon knows are ever looked at, never a
// path from the request. The fits_metadata row is a hit only when its fingerprint matches the file's
// current stat; otherwise the header is parsed again (no pixels read). The stat and any read run in a
// render-pool thread: a FIFO, a hung mount or a slow disk never blocks the event loop. No TTL: invalidation
// is exact. Either way the answer has one shape (admin.ts ThumbnailMetadata).
import type { Db } from '../../lib/db/index.js';
import { metadataFromHeader, metadataFromRow, type ThumbnailMetadata } from './admin.js';
import { NotFoundError, RetryableError } from '../../lib/errors.js';
import type { ThumbnailMetrics } from './metrics.js';
import type { RenderPool } from './pool.js';
import type { MetadataOutput } from './render-task.js';

/** How long an API lookup may wait for a pool thread and the header read. */
export const METADATA_TIMEOUT_MS = 10_000;

export async function metadataForThumbnail(
  state: Db,
  pool: RenderPool,
  metrics: ThumbnailMetrics,
  id: number,
  maxBlocks: number,
): Promise<ThumbnailMetadata> {
  const thumb = state.read((c) => c.prepare('SELECT fits_path FROM thumbnails WHERE id = ?').get(id)) as
    { fits_path: string } | undefined;
  if (!thumb) throw new NotFoundError(`no thumbnail ${id}`, { id });
  const path = thumb.fits_path;
  const row = state.read((c) => c.prepare('SELECT * FROM fits_metadata WHERE path = ?').get(path)) as
    (Record<string, unknown> & { fingerprint: string }) | undefined;
  const signal = AbortSignal.timeout(METADATA_TIMEOUT_MS);
  let out: MetadataOutput;
  try {
    out = await pool.metadata(
      { kind: 'metadata', fitsPath: path, cachedFingerprint: row?.fingerprint ?? null, maxBlocks },
      signal,
    );
  } catch (e) {
    if (!signal.aborted) throw e;
    throw new RetryableError(`metadata of thumbnail ${id} not read within ${METADATA_TIMEOUT_MS} ms`, {
      code: 'BUSY',
      details: { id },
    });
  }
  if (row && out.header === null) {
    metrics.metaCache.inc({ result: 'hit' });
    return metadataFromRow(id, path, row);
  }
  metrics.metaCache.inc({ result: row ? 'stale' : 'miss' });
  return metadataFromHeader(id, path, out.fingerprint, out.header!);
}
