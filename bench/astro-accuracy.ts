// Accuracy of lib/astro against the committed astropy 5.2.1 oracle (../shared/data/astro), and its speed:
// worst and median error per quantity, time per LST and per nextTransit call, and a 48 h schedule for 200
// calibrators (goal < 50 ms). Run by hand: npx tsx bench/astro-accuracy.ts
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUILTIN_CALIBRATORS,
  lstHours,
  nextTransit,
  parseUtc,
  SIDEREAL_RATE,
  transitsBetween,
  unixMsFromJd,
  type TransitModel,
} from '../lib/astro/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const astroDir = path.resolve(here, '..', '..', 'shared', 'data', 'astro');
interface Cases {
  site: { lat_deg: number; lon_deg: number; height_m: number };
  sources: { name: string; ra_deg: number; dec_deg: number; after: string }[];
}
interface Oracle {
  lst: { utc: string; last_h: number; lmst_h: number }[];
  transits: { legacy_jd: number; apparent_jd: number }[];
}
const cases = JSON.parse(fs.readFileSync(path.join(astroDir, 'cases-dev.json'), 'utf8')) as Cases;
const oracle = JSON.parse(fs.readFileSync(path.join(astroDir, 'oracle-astropy-dev.json'), 'utf8')) as Oracle;
const site = { latDeg: cases.site.lat_deg, lonDeg: cases.site.lon_deg, heightM: cases.site.height_m };

function stats(errs: number[]): string {
  const a = errs.map(Math.abs).sort((x, y) => x - y);
  const med = a[Math.floor(a.length / 2)];
  return `worst ${a[a.length - 1].toFixed(6)} s  median ${med.toFixed(6)} s  (n = ${a.length})`;
}
const lstErr = (a: number, b: number) => ((((a - b + 36) % 24) - 12) * 3600) / SIDEREAL_RATE;

console.log(`astro accuracy against astropy ${'5.2.1'} (${astroDir})`);
console.log(
  'apparent LST      ',
  stats(oracle.lst.map((r) => lstErr(lstHours(parseUtc(r.utc), { lonDeg: site.lonDeg }), r.last_h))),
);
console.log(
  'mean LST          ',
  stats(
    oracle.lst.map((r) => lstErr(lstHours(parseUtc(r.utc), { lonDeg: site.lonDeg, kind: 'mean' }), r.lmst_h)),
  ),
);
for (const model of ['legacy', 'apparent'] as TransitModel[]) {
  const errs = oracle.transits.map((t, i) => {
    const s = cases.sources[i];
    const got = nextTransit({ raDeg: s.ra_deg, decDeg: s.dec_deg }, parseUtc(s.after), { site, model });
    return (got.utcMs - unixMsFromJd(model === 'legacy' ? t.legacy_jd : t.apparent_jd)) / 1000;
  });
  console.log(`${model.padEnd(9)} transit `, stats(errs));
  if (model === 'apparent') {
    const bySource = new Map<string, number[]>();
    errs.forEach((e, i) =>
      bySource.set(cases.sources[i].name, [...(bySource.get(cases.sources[i].name) ?? []), Math.abs(e)]),
    );
    for (const [name, v] of bySource)
      console.log(`    ${name.padEnd(11)} worst ${Math.max(...v).toFixed(4)} s`);
  }
}

function timeIt(label: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 200); i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const per = (performance.now() - t0) / n;
  console.log(`${label.padEnd(38)} ${(per * 1000).toFixed(2)} µs per call`);
  return per;
}

const base = parseUtc('2025-01-01T00:00:00Z');
timeIt('lstHours (apparent)', 100_000, (i) => lstHours(base + i * 61_000, { lonDeg: site.lonDeg }));
timeIt('lstHours (mean)', 100_000, (i) => lstHours(base + i * 61_000, { lonDeg: site.lonDeg, kind: 'mean' }));
for (const model of ['legacy', 'apparent'] as TransitModel[]) {
  timeIt(`nextTransit (${model}, cold frame cache)`, 5_000, (i) =>
    nextTransit(BUILTIN_CALIBRATORS[i % 5], base + i * 7_919_000, { site, model }),
  );
}

// 200 calibrators spread over the sky (deterministic), a 48 h schedule each.
const cals = Array.from({ length: 200 }, (_, i) => ({
  raDeg: (i * 137.508) % 360,
  decDeg: -20 + ((i * 47) % 90),
}));
for (const model of ['legacy', 'apparent'] as TransitModel[]) {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = base + r * 86_400_000 * 7;
    const t0 = performance.now();
    let n = 0;
    for (const c of cals) n += transitsBetween(c, start, start + 48 * 3_600_000, { site, model }).length;
    runs.push(performance.now() - t0);
    if (r === 0) console.log(`48 h schedule, 200 calibrators (${model}): ${n} transits`);
  }
  console.log(
    `    first run ${runs[0].toFixed(1)} ms, best of 5 ${Math.min(...runs).toFixed(1)} ms (goal < 50 ms)`,
  );
}
