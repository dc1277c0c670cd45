// Do these subband headers form one observation? Same times, same declination, one file per subband,
// contiguous non-overlapping frequency coverage. Pure: the convert-check command feeds it headers.
import type { Uvh5Header } from './types.js';

export interface SubbandHeader {
  subband: number;
  header: Uvh5Header;
}

export interface ObservationSummary {
  ok: boolean;
  problems: string[];
  nSubbands: number;
  missing: number[];
  startJd: number | null;
  endJd: number | null;
  ntimes: number | null;
  decRad: number | null;
  freqMinHz: number | null;
  freqMaxHz: number | null;
  channelWidthHz: number | null;
}

const TIME_TOL_DAYS = 1e-3 / 86400; // 1 ms
const DEC_TOL_RAD = 1e-6;

function channelWidth(freqs: number[]): number | null {
  if (freqs.length < 2) return null;
  return Math.abs(freqs[1] - freqs[0]);
}

function checkTimes(subs: SubbandHeader[], problems: string[]): void {
  const ref = subs[0].header.timesJd;
  for (const s of subs.slice(1)) {
    const t = s.header.timesJd;
    if (t.length !== ref.length || t.some((v, i) => Math.abs(v - ref[i]) > TIME_TOL_DAYS))
      problems.push(
        `sb${String(s.subband).padStart(2, '0')}: times differ from sb${String(subs[0].subband).padStart(2, '0')}`,
      );
  }
}

function checkFrequencies(subs: SubbandHeader[], problems: string[]): number | null {
  const ranges = subs
    .map((s) => ({
      sb: s.subband,
      lo: Math.min(...s.header.freqsHz),
      hi: Math.max(...s.header.freqsHz),
      w: channelWidth(s.header.freqsHz),
    }))
    .sort((a, b) => a.lo - b.lo);
  const w = ranges[0].w;
  if (w === null) return null;
  for (let i = 1; i < ranges.length; i++) {
    const gap = ranges[i].lo - ranges[i - 1].hi;
    if (gap < w / 2) problems.push(`sb${ranges[i].sb} overlaps sb${ranges[i - 1].sb} in frequency`);
    else if (Math.abs(gap - w) > w * 1e-3 && Math.abs(ranges[i].sb - ranges[i - 1].sb) === 1)
      problems.push(
        `gap of ${gap.toFixed(1)} Hz between sb${ranges[i - 1].sb} and sb${ranges[i].sb} (channel width ${w} Hz)`,
      );
  }
  return w;
}

export function checkObservation(
  subs: SubbandHeader[],
  expected: number,
  allowPartial = false,
): ObservationSummary {
  const problems: string[] = [];
  const seen = new Set<number>();
  for (const s of subs) {
    if (seen.has(s.subband)) problems.push(`subband ${s.subband} appears twice`);
    seen.add(s.subband);
  }
  const missing = Array.from({ length: expected }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length && !allowPartial) problems.push(`missing subbands ${missing.join(',')}`);
  if (subs.length === 0) {
    problems.push('no files');
    return {
      ok: false,
      problems,
      nSubbands: 0,
      missing,
      startJd: null,
      endJd: null,
      ntimes: null,
      decRad: null,
      freqMinHz: null,
      freqMaxHz: null,
      channelWidthHz: null,
    };
  }
  checkTimes(subs, problems);
  const decs = subs.map((s) => s.header.phaseCenterDecRad);
  if (decs.some((d) => d === null)) problems.push('a file has no phase_center_dec');
  else if (decs.some((d) => Math.abs(d! - decs[0]!) > DEC_TOL_RAD))
    problems.push('declinations differ between subbands');
  const w = checkFrequencies(subs, problems);
  const nfreq = new Set(subs.map((s) => s.header.nfreqs));
  if (nfreq.size > 1) problems.push(`Nfreqs differs between subbands (${[...nfreq].join(', ')})`);
  const all = subs.flatMap((s) => s.header.freqsHz);
  const times = subs[0].header.timesJd;
  return {
    ok: problems.length === 0,
    problems,
    nSubbands: seen.size,
    missing,
    startJd: times[0],
    endJd: times[times.length - 1],
    ntimes: subs[0].header.ntimes,
    decRad: decs[0],
    freqMinHz: Math.min(...all),
    freqMaxHz: Math.max(...all),
    channelWidthHz: w,
  };
}
