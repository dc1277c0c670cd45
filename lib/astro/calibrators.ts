// The built-in calibrator list (J2000, 20 cm flux in Jy, approximate Perley–Butler-scale values) and a
// parser for the VLA calibrator manual (csource.txt) or a simple CSV. The original listed 3C286 twice
// (as J1331+3030 too) and put J0834+555 0.147° off in RA; here each source appears once, corrected.

export interface Calibrator {
  name: string;
  raDeg: number;
  decDeg: number;
  fluxJy: number | null;
  altNames: string[];
  catalog: 'builtin' | 'vla' | 'manual';
}

export const BUILTIN_CALIBRATORS: readonly Calibrator[] = Object.freeze([
  {
    name: '3C48',
    raDeg: 24.422,
    decDeg: 33.1597,
    fluxJy: 15.67,
    altNames: ['J0137+3309'],
    catalog: 'builtin',
  },
  {
    name: '3C138',
    raDeg: 80.2912,
    decDeg: 16.6394,
    fluxJy: 8.23,
    altNames: ['J0521+1638'],
    catalog: 'builtin',
  },
  {
    name: '3C147',
    raDeg: 85.6505,
    decDeg: 49.852,
    fluxJy: 21.64,
    altNames: ['J0542+4951'],
    catalog: 'builtin',
  },
  {
    name: 'J0834+555',
    raDeg: 128.7287,
    decDeg: 55.5725,
    fluxJy: 5.0,
    altNames: ['4C+55.16'],
    catalog: 'builtin',
  },
  {
    name: '3C286',
    raDeg: 202.7845,
    decDeg: 30.5092,
    fluxJy: 14.65,
    altNames: ['J1331+3030'],
    catalog: 'builtin',
  },
] satisfies Calibrator[]);

const J2000_LINE =
  /^\s*(\S+)\s+J2000\s+(\S)\s+(\d+)h(\d+)m([\d.]+)s\s+([+-]?)(\d+)d(\d+)'([\d.]+)"\s*(?:\S+\s*)?(\S+)?\s*$/;
const L_BAND_LINE = /^\s*20cm\s+L\s+\S\s+\S\s+\S\s+\S\s+([\d.]+)/;

/**
 * Parse the VLA calibrator manual text: each source starts with a `J2000` line (name, position code,
 * sexagesimal RA/Dec, optional epoch code and alternative name); the `20cm L` band line gives the flux.
 * Sources without a 20 cm flux keep fluxJy = null.
 */
export function parseVlaCalibratorText(text: string): Calibrator[] {
  const out: Calibrator[] = [];
  let cur: Calibrator | null = null;
  for (const line of text.split(/\r?\n/)) {
    const m = J2000_LINE.exec(line);
    if (m) {
      const ra = 15 * (Number(m[3]) + Number(m[4]) / 60 + Number(m[5]) / 3600);
      const dec = (m[6] === '-' ? -1 : 1) * (Number(m[7]) + Number(m[8]) / 60 + Number(m[9]) / 3600);
      const name = m[1].startsWith('J') ? m[1] : `J${m[1]}`;
      cur = { name, raDeg: ra, decDeg: dec, fluxJy: null, altNames: m[10] ? [m[10]] : [], catalog: 'vla' };
      out.push(cur);
      continue;
    }
    const b = L_BAND_LINE.exec(line);
    if (b && cur && cur.fluxJy === null) cur.fluxJy = Number(b[1]);
  }
  return out;
}

/** Parse `name,ra_deg,dec_deg[,flux_jy]` lines (a header line and # comments are skipped). */
export function parseCalibratorCsv(text: string, catalog: Calibrator['catalog'] = 'manual'): Calibrator[] {
  const out: Calibrator[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [name, ra, dec, flux] = line.split(',').map((s) => s.trim());
    const raDeg = Number(ra);
    const decDeg = Number(dec);
    if (!name || !Number.isFinite(raDeg) || !Number.isFinite(decDeg)) continue;
    if (raDeg < 0 || raDeg >= 360 || Math.abs(decDeg) > 90) throw new RangeError(`bad position for ${name}`);
    const f = flux === undefined || flux === '' ? null : Number(flux);
    out.push({
      name,
      raDeg,
      decDeg,
      fluxJy: f !== null && Number.isFinite(f) ? f : null,
      altNames: [],
      catalog,
    });
  }
  return out;
}
