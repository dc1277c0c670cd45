// FITS metadata lookups for the API: the fits_metadata row is a hit only when its fingerprint matches the
// file's current stat; otherwise the header is parsed again (no pixels read). No TTL: invalidation is exact.
import type { Db } from '../../lib/db/index.js';
import { headerMetadata } from '../../lib/fits/file-metadata.js';
import { fingerprintKey, statFingerprint } from '../../lib/fits/fingerprint.js';
import type { ThumbnailMetrics } from './metrics.js';

export function cachedMetadata(
  state: Db,
  path: string,
  metrics: ThumbnailMetrics,
  maxBlocks: number,
): Record<string, unknown> | null {
  const fp = statFingerprint(path);
  const key = fingerprintKey(fp);
  const row = state.read((c) => c.prepare('SELECT * FROM fits_metadata WHERE path = ?').get(path)) as
    (Record<string, unknown> & { fingerprint: string }) | undefined;
  if (row && row.fingerprint === key) {
    metrics.metaCache.inc({ result: 'hit' });
    return { source: 'cache', ...row };
  }
  metrics.metaCache.inc({ result: row ? 'stale' : 'miss' });
  return { source: 'header', fingerprint: key, ...headerMetadata(path, { maxBlocks }) };
}
