// Subband file names: `YYYY-MM-DDTHH:MM:SS_sbNN.hdf5` (UTC). Anchored: the original's unanchored search()
// accepted dotfiles, prefixes and sb16–sb99. Pure; no I/O.

const NAME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})_sb(\d{2})\.hdf5$/;

export type BadNameReason = 'dotfile' | 'temp_suffix' | 'pattern' | 'subband_range' | 'bad_date';

export type ParsedName =
  | { ok: true; name: string; tsName: string; tsMs: number; subband: number }
  | { ok: false; name: string; reason: BadNameReason };

const TEMP_SUFFIX = /\.(tmp|temp|part|partial|swp|crdownload)$|~$/i;

/** Parse a base name. `expectedSubbands` bounds NN (16 → 00..15). */
export function parseSubbandName(name: string, expectedSubbands: number): ParsedName {
  if (name.startsWith('.')) return { ok: false, name, reason: 'dotfile' };
  if (TEMP_SUFFIX.test(name)) return { ok: false, name, reason: 'temp_suffix' };
  const m = NAME_RE.exec(name);
  if (!m) return { ok: false, name, reason: 'pattern' };
  const [y, mo, d, h, mi, s, sb] = m.slice(1).map(Number);
  if (sb >= expectedSubbands) return { ok: false, name, reason: 'subband_range' };
  const tsMs = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(tsMs);
  // Date.UTC rolls 2025-13-40 over into 2026; an impossible date does not survive the round trip.
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi ||
    back.getUTCSeconds() !== s
  )
    return { ok: false, name, reason: 'bad_date' };
  return { ok: true, name, tsName: name.slice(0, 19), tsMs, subband: sb };
}

/** The group id text for an epoch: the name timestamp form (no zone, whole seconds). */
export function tsNameOf(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}
