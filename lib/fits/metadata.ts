// Header → metadata (docs/thumbnail-worker.md). Fixes the original's gaps: RA/Dec only for RA/DEC axes
// (Galactic axes go to glon/glat), the frequency from the axis whose CTYPE is FREQ, the rest frequency from
// RESTFRQ or RESTFREQ, and the beam from BMAJ/BMIN/BPA or else the last AIPS CLEAN HISTORY line (degrees;
// CONVL lines are arcsec and ignored). DATE-OBS is kept raw; the ISO field is null unless it is ISO-8601.
import type { CardValue, FitsHeader } from './header.js';

export interface AxisInfo {
  n: number;
  ctype: string | null;
  cunit: string | null;
  crval: number | null;
  cdelt: number | null;
  crpix: number | null;
}

export interface FitsMetadata {
  object: string | null;
  telescope: string | null;
  instrument: string | null;
  observer: string | null;
  dateObsRaw: string | null;
  dateObs: string | null;
  bitpix: number | null;
  naxis: number[];
  bunit: string | null;
  btype: string | null;
  axes: AxisInfo[];
  raDeg: number | null;
  decDeg: number | null;
  glonDeg: number | null;
  glatDeg: number | null;
  freqHz: number | null;
  bandwidthHz: number | null;
  restfreqHz: number | null;
  bmajDeg: number | null;
  bminDeg: number | null;
  bpaDeg: number | null;
  beamMajorArcsec: number | null;
  beamMinorArcsec: number | null;
  beamSource: 'keywords' | 'aips-history' | null;
  cellsizeArcsec: number | null;
  wscImgWeight: string | number | null;
  wsc: Record<string, CardValue>;
}

function str(h: FitsHeader, k: string): string | null {
  const v = h.values.get(k);
  if (v === undefined || v === null) return null;
  const s = String(v).trim();
  return s === '' ? null : s;
}

function num(h: FitsHeader, k: string): number | null {
  const v = h.values.get(k);
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

/** ISO form of a FITS date, or null when it is not ISO-8601 (e.g. FIRST's 19930417 or old dd/mm/yy). */
export function isoDate(raw: string | null): string | null {
  if (!raw || !ISO_DATE.test(raw)) return null;
  const t = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : `${raw}Z`);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

const AIPS_BEAM =
  /AIPS\s+CLEAN\s+BMAJ\s*=\s*([-+0-9.EeDd]+)\s+BMIN\s*=\s*([-+0-9.EeDd]+)\s+BPA\s*=\s*([-+0-9.EeDd]+)/;

/** The beam from the last `AIPS CLEAN BMAJ= … BMIN= … BPA=` HISTORY line (degrees). */
export function aipsHistoryBeam(history: readonly string[]): [number, number, number] | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const m = AIPS_BEAM.exec(history[i]);
    if (m) {
      const v = m.slice(1, 4).map((s) => Number(s.replace(/[Dd]/, 'E')));
      if (v.every(Number.isFinite)) return [v[0], v[1], v[2]];
    }
  }
  return null;
}

function axesOf(h: FitsHeader, naxis: number[]): AxisInfo[] {
  return naxis.map((_, i) => {
    const n = i + 1;
    return {
      n,
      ctype: str(h, `CTYPE${n}`),
      cunit: str(h, `CUNIT${n}`),
      crval: num(h, `CRVAL${n}`),
      cdelt: num(h, `CDELT${n}`),
      crpix: num(h, `CRPIX${n}`),
    };
  });
}

function celestial(axes: AxisInfo[]): Pick<FitsMetadata, 'raDeg' | 'decDeg' | 'glonDeg' | 'glatDeg'> {
  const find = (re: RegExp): AxisInfo | undefined =>
    axes.find((a) => a.ctype !== null && re.test(a.ctype.toUpperCase()));
  return {
    raDeg: find(/^RA(-|$)/)?.crval ?? null,
    decDeg: find(/^DEC(-|$)/)?.crval ?? null,
    glonDeg: find(/^GLON(-|$)/)?.crval ?? null,
    glatDeg: find(/^GLAT(-|$)/)?.crval ?? null,
  };
}

function beam(h: FitsHeader): Pick<FitsMetadata, 'bmajDeg' | 'bminDeg' | 'bpaDeg' | 'beamSource'> {
  const bmaj = num(h, 'BMAJ');
  const bmin = num(h, 'BMIN');
  if (bmaj !== null && bmin !== null)
    return { bmajDeg: bmaj, bminDeg: bmin, bpaDeg: num(h, 'BPA'), beamSource: 'keywords' };
  const hist = aipsHistoryBeam(h.history);
  if (hist) return { bmajDeg: hist[0], bminDeg: hist[1], bpaDeg: hist[2], beamSource: 'aips-history' };
  return { bmajDeg: null, bminDeg: null, bpaDeg: null, beamSource: null };
}

export function extractMetadata(h: FitsHeader): FitsMetadata {
  const naxisN = num(h, 'NAXIS') ?? 0;
  const naxis = Array.from({ length: naxisN }, (_, i) => num(h, `NAXIS${i + 1}`) ?? 0);
  const axes = axesOf(h, naxis);
  const freqAxis = axes.find((a) => a.ctype !== null && /^FREQ/.test(a.ctype.toUpperCase()));
  const restfreq = num(h, 'RESTFRQ') ?? num(h, 'RESTFREQ');
  const freqHz = freqAxis?.crval ?? restfreq ?? num(h, 'FREQ') ?? num(h, 'OBSFREQ');
  const b = beam(h);
  const cdelt1 = axes[0]?.cdelt ?? null;
  const wsc: Record<string, CardValue> = {};
  for (const [k, v] of h.values) if (k.startsWith('WSC')) wsc[k] = v;
  const dateObsRaw = str(h, 'DATE-OBS');
  return {
    object: str(h, 'OBJECT'),
    telescope: str(h, 'TELESCOP'),
    instrument: str(h, 'INSTRUME'),
    observer: str(h, 'OBSERVER'),
    dateObsRaw,
    dateObs: isoDate(dateObsRaw),
    bitpix: num(h, 'BITPIX'),
    naxis,
    bunit: str(h, 'BUNIT'),
    btype: str(h, 'BTYPE'),
    axes,
    ...celestial(axes),
    freqHz,
    bandwidthHz: freqAxis?.cdelt !== null && freqAxis?.cdelt !== undefined ? Math.abs(freqAxis.cdelt) : null,
    restfreqHz: restfreq,
    ...b,
    beamMajorArcsec: b.bmajDeg === null ? null : b.bmajDeg * 3600,
    beamMinorArcsec: b.bminDeg === null ? null : b.bminDeg * 3600,
    cellsizeArcsec: cdelt1 === null ? null : Math.abs(cdelt1) * 3600,
    wscImgWeight: (h.values.get('WSCIMGWG') as string | number | undefined) ?? null,
    wsc,
  };
}
