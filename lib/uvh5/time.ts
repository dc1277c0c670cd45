// Julian Date ↔ Unix time. UVH5 time_array holds JD (UTC scale) in days; leap seconds are ignored as
// pyuvdata and astropy's "jd" on UTC do for this purpose.
import type { Uvh5Header } from './types.js';

export const JD_UNIX_EPOCH = 2440587.5;
const MS_PER_DAY = 86_400_000;

export function jdToUnixMs(jd: number): number {
  return (jd - JD_UNIX_EPOCH) * MS_PER_DAY;
}

export function unixMsToJd(ms: number): number {
  return ms / MS_PER_DAY + JD_UNIX_EPOCH;
}

/** The middle of the observation: (first + last time) / 2, as the original's fast_meta computed it. */
export function headerMidJd(h: Pick<Uvh5Header, 'timesJd'>): number {
  return (h.timesJd[0] + h.timesJd[h.timesJd.length - 1]) / 2;
}
