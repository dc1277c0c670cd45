// The UVH5 header as the daemons use it. Written by lib/uvh5's reader (h5wasm) for the streaming converter
// and the pointing monitor alike. Times are Julian Dates (UTC scale, days) as pyuvdata writes them.

export interface Uvh5Header {
  path: string;
  /** Header/Nblts, Ntimes, Nfreqs, Nbls, Nspws, Npols as integers. */
  nblts: number;
  ntimes: number;
  nfreqs: number;
  nbls: number | null;
  nspws: number | null;
  npols: number | null;
  /** Unique values of Header/time_array (JD), sorted. */
  timesJd: number[];
  /** Header/freq_array flattened (Hz), whether stored as (Nfreqs) or (1, Nfreqs). */
  freqsHz: number[];
  /** Header/integration_time of the first record (s), if present. */
  integrationTimeS: number | null;
  telescopeName: string | null;
  /** extra_keywords/phase_center_dec (radians, as DSA-110 writes it), null if absent. */
  phaseCenterDecRad: number | null;
  /** extra_keywords/ha_phase_center (radians), null if absent. */
  haPhaseCenterRad: number | null;
  /** All scalar extra_keywords, for display. */
  extraKeywords: Record<string, number | string | boolean>;
}
