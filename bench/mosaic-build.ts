// bench/mosaic-build: a 12-tile science segment at +55.6° from the simulator (tiles 1.291° of RA apart,
// 3.5° wide, σ = 1 mJy, a few hundred sources), built by the BUILT `contimg mosaic-build` in a child process.
// Prints, ratios first: the builder's peak RSS against the memory model the planner and builder share
// (lib/mosaic/memory.ts; goal within 20 %, ≤ 1.5 GB) and against the original builder's ≈ 7 float64
// canvases per input; the measured noise of the mosaic against its own EFFNOISE (median 1/√W) over the
// inner region; and a full-overlap stack (all 12 tiles at one pointing) whose measured centre noise is set
// against σ/√12 (the drift-averaged beam is < 1 at the centre, so the expected ratio is 1/A there). Then the
// absolute figures: build seconds, tile Mpx/s, canvas, RSS.
//
// The tile size is a flag: DSA-110 images are 5040² at 2.5″ (an 83 Mpx canvas, model ≈ 2.6 GB); the default
// 2520² at 5″ covers the same sky with a quarter of the pixels and runs in a few minutes on a shared 2-core
// machine. Build first (npm run build). Run: npx tsx bench/mosaic-build.ts [--tile-px 2520] [--keep]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openImage, readPlane } from '../lib/fits/plane.js';
import { estimateMemoryBytes } from '../lib/mosaic/memory.js';
import { parseResult, type MosaicManifest } from '../lib/mosaic/manifest.js';
import { makeBeam } from '../lib/mosaic/beam.js';
import { manifestFromTiles, writeMosaicTiles, type SimulatedTile } from '../lib/sim/mosaic-tiles.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli/contimg.js');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const tilePx = Number(opt('--tile-px', '2520'));
const keep = args.includes('--keep');
const SIGMA = 1e-3;
const N = 12;
const MiB = 1024 * 1024;

function sources(n: number, seed: number): { ra: number; dec: number; fluxJy: number }[] {
  let s = seed;
  const r = (): number => (s = (s * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: n }, () => ({
    ra: 120 - 2 + r() * 18,
    dec: 55.6 - 1.6 + r() * 3.2,
    fluxJy: 0.005 * Math.pow(100, r()),
  }));
}

function read(p: string): { nx: number; ny: number; px: Float32Array | Float64Array } {
  const img = openImage(p);
  try {
    return { nx: img.nx, ny: img.ny, px: readPlane(img, 0) };
  } finally {
    img.close();
  }
}

const madStd = (v: Float64Array): number => {
  const s = Float64Array.from(v).sort();
  const med = s[s.length >> 1];
  const d = s.map((x) => Math.abs(x - med)).sort();
  return 1.4826 * d[d.length >> 1];
};

/** Run the built builder on a manifest; the result JSON and wall seconds. */
function build(m: MosaicManifest, dir: string): { res: ReturnType<typeof parseResult>; wall: number } {
  const file = path.join(dir, `${m.name}.manifest.json`);
  fs.writeFileSync(file, JSON.stringify(m));
  const t0 = performance.now();
  try {
    execFileSync(
      process.execPath,
      [cli, 'mosaic-build', '--quiet', '--manifest', file, '--result', m.result_path],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  } catch {
    /* the result JSON says why */
  }
  const wall = (performance.now() - t0) / 1000;
  const res = parseResult(fs.readFileSync(m.result_path, 'utf8'));
  if (!res.ok) throw new Error(`build failed: ${res.error_code}: ${res.error}`);
  return { res, wall };
}

/** Noise of the mosaic over its inner region (W ≥ ½ max W), sources masked by a 3σ clip of the MAD. */
function innerNoise(
  m: MosaicManifest,
  box?: (x: number, y: number) => boolean,
  every = 7,
): { measured: number; n: number } {
  const img = read(m.outputs.fits);
  const w = read(m.outputs.weights).px;
  let maxW = 0;
  for (const v of w) if (v > maxW) maxW = v;
  const vals: number[] = [];
  for (let i = 0; i < w.length; i++) {
    const [x, y] = [i % img.nx, Math.floor(i / img.nx)];
    if (w[i] >= 0.5 * maxW && (!box || box(x, y)) && i % every === 0) vals.push(img.px[i]);
  }
  const all = Float64Array.from(vals);
  const first = madStd(all);
  const clipped = all.filter((v) => Math.abs(v) < 5 * first);
  return { measured: madStd(clipped), n: clipped.length };
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mosaic-'));
  try {
    const t0 = performance.now();
    const tiles: SimulatedTile[] = writeMosaicTiles({
      dir: path.join(dir, 'strip'),
      n: N,
      nx: tilePx,
      decDeg: 55.6,
      noiseJy: SIGMA,
      sources: sources(300, 11),
      seed: 3,
    });
    const stack = writeMosaicTiles({
      dir: path.join(dir, 'stack'),
      n: N,
      nx: tilePx,
      decDeg: 55.6,
      noiseJy: SIGMA,
      samePointing: true,
      seed: 4,
    });
    const genS = (performance.now() - t0) / 1000;
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const strip = manifestFromTiles(tiles, {
      outputDir: out,
      name: 'science_strip',
      tier: 'science',
      interpolation: 'bilinear',
    });
    const stripNearest = manifestFromTiles(tiles, {
      outputDir: out,
      name: 'science_strip_nearest',
      tier: 'science',
      interpolation: 'nearest',
    });
    const full = manifestFromTiles(stack, {
      outputDir: out,
      name: 'science_stack',
      tier: 'science',
      interpolation: 'nearest',
    });

    const a = build(strip, dir);
    const canvasPx = strip.grid.nx * strip.grid.ny;
    const model = estimateMemoryBytes(canvasPx, tilePx * tilePx);
    const rss = a.res.stats!.peak_rss_bytes;
    const original = 7 * N * canvasPx * 8;
    const eff = a.res.stats!.effective_noise_jy!;
    const noiseBilinear = innerNoise(strip);
    fs.rmSync(strip.outputs.fits);
    fs.rmSync(strip.outputs.weights);
    const an = build(stripNearest, dir);
    const noiseA = innerNoise(stripNearest);

    const b = build(full, dir);
    // the centre of the stack: pixels within 2 % of the peak weight
    const wb = read(full.outputs.weights);
    let maxW = 0;
    for (const v of wb.px) if (v > maxW) maxW = v;
    const centre = (x: number, y: number): boolean => wb.px[y * wb.nx + x] >= 0.98 * maxW;
    const noiseB = innerNoise(full, centre, 1);
    const aCentre = makeBeam({
      dishM: 4.65,
      freqHz: 1.405e9,
      pointing: stack[0].pointing,
      smearRaDeg: 1.291,
    })(stack[0].pointing.ra, 55.6);
    const ideal = SIGMA / Math.sqrt(N);

    const line = (s: string): boolean => process.stdout.write(`${s}\n`);
    line(
      `mosaic-build bench: ${N} tiles of ${tilePx}² (${((3.5 * 3600) / tilePx).toFixed(2)}″ px) at +55.6°, σ = 1 mJy`,
    );
    line('ratios');
    line(`  peak RSS / memory model           ${(rss / model).toFixed(2)}   (goal 0.8–1.2; ≤ 1.5 GB)`);
    line(`  peak RSS / original (7×N canvases) ${(rss / original).toFixed(3)}`);
    line(
      `  strip: measured inner noise / EFFNOISE   ${(noiseA.measured / eff).toFixed(3)}   (${noiseA.n} px, nearest)`,
    );
    line(
      `  strip, bilinear: the same                ${(noiseBilinear.measured / eff).toFixed(3)}   (the simulator's white pixel noise is smoothed by bilinear)`,
    );
    line(
      `  stack: measured centre noise / (σ/√N)    ${(noiseB.measured / ideal).toFixed(3)}   (expected 1/A = ${(1 / aCentre).toFixed(3)}; ${noiseB.n} px, nearest)`,
    );
    line(
      `  stack: EFFNOISE / (σ/√N)                 ${(b.res.stats!.effective_noise_jy! / ideal).toFixed(3)}   (median over W ≥ ½ max W)`,
    );
    line('figures');
    line(
      `  canvas ${strip.grid.nx} × ${strip.grid.ny} = ${(canvasPx / 1e6).toFixed(1)} Mpx; tiles ${N} × ${(tilePx ** 2 / 1e6).toFixed(1)} Mpx`,
    );
    line(
      `  strip build, bilinear ${a.res.stats!.seconds.toFixed(1)} s (process ${a.wall.toFixed(1)} s), ${((N * tilePx ** 2) / 1e6 / a.res.stats!.seconds).toFixed(2)} tile Mpx/s`,
    );
    line(
      `  strip build, nearest  ${an.res.stats!.seconds.toFixed(1)} s, peak RSS ${(an.res.stats!.peak_rss_bytes / MiB).toFixed(0)} MiB`,
    );
    line(
      `  peak RSS ${(rss / MiB).toFixed(0)} MiB, model ${(model / MiB).toFixed(0)} MiB (16.125 B × ${(canvasPx / 1e6).toFixed(1)} Mpx + 8 B × ${(tilePx ** 2 / 1e6).toFixed(1)} Mpx + 128 MiB), original ≈ ${(original / MiB).toFixed(0)} MiB`,
    );
    line(
      `  strip EFFNOISE ${(eff * 1e3).toFixed(4)} mJy, measured ${(noiseA.measured * 1e3).toFixed(4)} mJy; coverage ${a.res.stats!.coverage_sq_deg.toFixed(2)} sq deg`,
    );
    line(
      `  stack build ${b.res.stats!.seconds.toFixed(1)} s, peak RSS ${(b.res.stats!.peak_rss_bytes / MiB).toFixed(0)} MiB; measured ${(noiseB.measured * 1e3).toFixed(4)} mJy vs σ/√N ${(ideal * 1e3).toFixed(4)} mJy`,
    );
    line(
      `  (generating ${2 * N} tiles took ${genS.toFixed(0)} s; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`,
    );
  } finally {
    if (keep) process.stdout.write(`kept ${dir}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
