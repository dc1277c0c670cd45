// Reference sources for mosaic QA: the pointing monitor's calibrators plus an optional operator file, each
// with a 1.4 GHz flux and a spectral index. Around each source that falls inside the inner region the
// measurement keeps a small window of pixels; the brightest pixel within 3 beams of the catalogue position is
// refined by a quadratic fit to the logarithm of the 3 × 3 neighbourhood (exact for a Gaussian beam on an
// axis-aligned grid, where a fit to the linear values biases the peak low by several per cent), which gives
// the position offset in beams and the peak flux against the expected one.
import fs from 'node:fs';

export interface ReferenceSource {
  name: string;
  raDeg: number;
  decDeg: number;
  /** Flux density at 1.4 GHz (Jy). */
  s14Jy: number;
  /** Spectral index α (S ∝ ν^α); 0 when unknown (calibrators). */
  alpha: number;
}

/** Expected flux at freqHz (1.4 GHz when the mosaic says no frequency). */
export function expectedFluxJy(s: ReferenceSource, freqHz: number | null): number {
  return freqHz === null ? s.s14Jy : s.s14Jy * Math.pow(freqHz / 1.4e9, s.alpha);
}

/**
 * Parse a reference file: CSV lines `name,ra_deg,dec_deg,s14_jy[,alpha]`; blank lines, `#` comments and a
 * header line starting with `name` are skipped. A bad line is an error naming the line (the file is the
 * operator's: a typo must not silently drop a source).
 */
export function parseReferenceCsv(text: string, file = 'referenceSourcesFile'): ReferenceSource[] {
  const out: ReferenceSource[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || /^name\s*,/i.test(line)) return;
    const [name, ra, dec, s14, alpha] = line.split(',').map((s) => s.trim());
    const v = {
      raDeg: Number(ra),
      decDeg: Number(dec),
      s14Jy: Number(s14),
      alpha: alpha ? Number(alpha) : 0,
    };
    const ok =
      !!name &&
      v.raDeg >= 0 &&
      v.raDeg < 360 &&
      Math.abs(v.decDeg) <= 90 &&
      v.s14Jy > 0 &&
      Number.isFinite(v.alpha);
    if (!ok) throw new Error(`${file}:${i + 1}: expected name,ra_deg,dec_deg,s14_jy[,alpha], got "${line}"`);
    out.push({ name, ...v });
  });
  return out;
}

export function readReferenceFile(file: string): ReferenceSource[] {
  return parseReferenceCsv(fs.readFileSync(file, 'utf8'), file);
}

/** A square window of mosaic pixels (row major, NaN outside the image) around a source's expected pixel. */
export interface SourceWindow {
  source: ReferenceSource;
  /** Expected 0-based pixel position. */
  x: number;
  y: number;
  /** Lower-left pixel of the window and its side. */
  x0: number;
  y0: number;
  side: number;
  values: Float32Array;
  /** Whether the expected pixel lies in the inner region (decided during the pass). */
  inner: boolean;
}

export function makeWindow(source: ReferenceSource, x: number, y: number, radiusPx: number): SourceWindow {
  const r = Math.ceil(radiusPx) + 1;
  const side = 2 * r + 1;
  return {
    source,
    x,
    y,
    x0: Math.round(x) - r,
    y0: Math.round(y) - r,
    side,
    values: new Float32Array(side * side).fill(NaN),
    inner: false,
  };
}

export interface PeakFit {
  x: number;
  y: number;
  peak: number;
}

/** Vertex of the parabola through (−1, a), (0, b), (1, c): offset and value (null when not a maximum). */
function vertex(a: number, b: number, c: number): { d: number; v: number } | null {
  const curv = a - 2 * b + c;
  if (!(curv < 0)) return null;
  const d = (0.5 * (a - c)) / curv;
  return Math.abs(d) > 1 ? null : { d, v: b - 0.25 * (a - c) * d };
}

/**
 * The brightest finite pixel within radiusPx of the expected position, refined by a quadratic fit: on the
 * logarithm when the 3 × 3 neighbours are positive (a Gaussian beam), on the values otherwise. Null when no
 * finite pixel is within reach or the brightest one sits on the window's edge.
 */
export function fitPeak(w: SourceWindow, radiusPx: number): PeakFit | null {
  let best = -Infinity;
  let bi = -1;
  let bj = -1;
  for (let j = 0; j < w.side; j++)
    for (let i = 0; i < w.side; i++) {
      const v = w.values[j * w.side + i];
      if (!(v > best)) continue;
      if (Math.hypot(w.x0 + i - w.x, w.y0 + j - w.y) > radiusPx) continue;
      best = v;
      bi = i;
      bj = j;
    }
  if (bi < 1 || bj < 1 || bi > w.side - 2 || bj > w.side - 2) return null;
  const at = (di: number, dj: number): number => w.values[(bj + dj) * w.side + bi + di];
  const n = [at(-1, 0), at(1, 0), at(0, -1), at(0, 1)];
  if (n.some((v) => !Number.isFinite(v))) return { x: w.x0 + bi, y: w.y0 + bj, peak: best };
  const useLog = best > 0 && n.every((v) => v > 0);
  const f = useLog ? Math.log : (v: number) => v;
  const c = f(best);
  const vx = vertex(f(n[0]), c, f(n[1]));
  const vy = vertex(f(n[2]), c, f(n[3]));
  const dx = vx?.d ?? 0;
  const dy = vy?.d ?? 0;
  const g = c + (vx ? vx.v - c : 0) + (vy ? vy.v - c : 0);
  return { x: w.x0 + bi + dx, y: w.y0 + bj + dy, peak: useLog ? Math.exp(g) : g };
}
