// Time scales for the astronomy library. Instants are Unix milliseconds (UTC, POSIX: no leap seconds).
// UT1 = UTC + (UT1−UTC) drives the Earth rotation angle; TT = UTC + 32.184 s + (TAI−UTC) drives the
// precession and nutation series, where a second of error is harmless (~1e-6″ of LST).

export const MS_PER_DAY = 86_400_000;
/** Unix epoch (1970-01-01T00:00Z) as a Julian Date. */
export const JD_UNIX_EPOCH = 2440587.5;
/** J2000.0 (2000-01-01T12:00 TT) as a Julian Date. */
export const JD_J2000 = 2451545.0;
export const MJD_OFFSET = 2400000.5;
/** Mean solar days per sidereal rotation unit: sidereal time advances 1.002737909350795 times as fast. */
export const SIDEREAL_RATE = 1.002737909350795;
/** One mean sidereal day in SI seconds (86 164.0905 s). */
export const SIDEREAL_DAY_S = 86400 / SIDEREAL_RATE;

/** Leap-second table: (UTC ms from which TAI−UTC applies, TAI−UTC seconds), from 1972 onward. */
const LEAP_SECONDS: ReadonlyArray<readonly [number, number]> = [
  ['1972-01-01', 10],
  ['1972-07-01', 11],
  ['1973-01-01', 12],
  ['1974-01-01', 13],
  ['1975-01-01', 14],
  ['1976-01-01', 15],
  ['1977-01-01', 16],
  ['1978-01-01', 17],
  ['1979-01-01', 18],
  ['1980-01-01', 19],
  ['1981-07-01', 20],
  ['1982-07-01', 21],
  ['1983-07-01', 22],
  ['1985-07-01', 23],
  ['1988-01-01', 24],
  ['1990-01-01', 25],
  ['1991-01-01', 26],
  ['1992-07-01', 27],
  ['1993-07-01', 28],
  ['1994-07-01', 29],
  ['1996-01-01', 30],
  ['1997-07-01', 31],
  ['1999-01-01', 32],
  ['2006-01-01', 33],
  ['2009-01-01', 34],
  ['2012-07-01', 35],
  ['2015-07-01', 36],
  ['2017-01-01', 37],
].map(([d, s]) => [Date.parse(`${d}T00:00:00Z`), s as number] as const);

/** TAI−UTC in seconds at a UTC instant (37 s since 2017; assumed constant afterwards). */
export function taiMinusUtc(utcMs: number): number {
  for (let i = LEAP_SECONDS.length - 1; i >= 0; i--)
    if (utcMs >= LEAP_SECONDS[i][0]) return LEAP_SECONDS[i][1];
  return 10;
}

export const jdFromUnixMs = (ms: number): number => ms / MS_PER_DAY + JD_UNIX_EPOCH;
export const unixMsFromJd = (jd: number): number => (jd - JD_UNIX_EPOCH) * MS_PER_DAY;
export const mjdFromUnixMs = (ms: number): number => ms / MS_PER_DAY + (JD_UNIX_EPOCH - MJD_OFFSET);
export const unixMsFromMjd = (mjd: number): number => (mjd - (JD_UNIX_EPOCH - MJD_OFFSET)) * MS_PER_DAY;

/** Days since J2000.0 on the UT1 scale (the argument of the Earth rotation angle). */
export function ut1DaysSinceJ2000(utcMs: number, dut1S: number): number {
  return (utcMs + dut1S * 1000) / MS_PER_DAY - (JD_J2000 - JD_UNIX_EPOCH);
}

/** Days since J2000.0 on the TT scale. */
export function ttDaysSinceJ2000(utcMs: number): number {
  return (utcMs + (32.184 + taiMinusUtc(utcMs)) * 1000) / MS_PER_DAY - (JD_J2000 - JD_UNIX_EPOCH);
}

/** ISO-8601 UTC with milliseconds and Z, e.g. 2025-01-01T14:39:24.748Z. */
export const isoUtc = (ms: number): string => new Date(Math.round(ms)).toISOString();

/** Parse an ISO instant; a string without a zone designator is taken as UTC (never local time). */
export function parseUtc(text: string): number {
  const t = text.trim();
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(t);
  const ms = Date.parse(hasZone || !/T|\d\d:\d\d/.test(t) ? t : `${t}Z`);
  if (!Number.isFinite(ms)) throw new RangeError(`not an ISO-8601 instant: "${text}"`);
  return ms;
}
