// bench/mosaic-qa: grading one mosaic (the `mosaic` PNG + the streamed QA of mosaic and weight map) against
// rendering the same mosaic's image thumbnail, in fresh child processes from dist/ (build first). Prints the
// ratio grade/render first, then the median times and each process's peak RSS: the QA's memory is bounded by
// the strip size plus sampleMax samples, so the peak must not grow with the mosaic's size.
//   npx tsc -p tsconfig.build.json && npx tsx bench/mosaic-qa.ts [--reps 3] [--sizes 4000x2000,8000x4000]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeMosaicPair } from '../test/helpers/mosaic-fits.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt('--reps', '3'));
const sizes = opt('--sizes', '4000x2000,8000x4000')
  .split(',')
  .map((s) => s.split('x').map(Number));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One fresh node process running `body` reps times; returns the median ms and the peak RSS (MB). */
function child(body: string): { ms: number; mb: number } {
  const code = `
    const t = [];
    for (let i = 0; i < ${reps}; i++) { const t0 = performance.now(); await (async () => { ${body} })(); t.push(performance.now() - t0); }
    process.stdout.write(JSON.stringify({ t, rss: process.resourceUsage().maxRSS }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const out = JSON.parse(r.stdout) as { t: number[]; rss: number };
  return { ms: median(out.t), mb: out.rss / 1024 };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mosaic-qa-'));
try {
  for (const [nx, ny] of sizes) {
    const f = writeMosaicPair({
      dir,
      name: `m${nx}x${ny}`,
      nx,
      ny,
      noiseJy: 0.001,
      sources: [{ x: nx / 2, y: ny / 2, fluxJy: 1 }],
      covered: (x, y) => ((x - nx / 2) / (nx / 2)) ** 2 + ((y - ny / 2) / (ny / 2)) ** 2 < 1,
    });
    const dist = (p: string) => JSON.stringify(path.join(root, 'dist', p));
    const render = child(`
      const { renderThumbnail, DEFAULT_RENDER } = await import(${dist('lib/fits/render.js')});
      renderThumbnail(${JSON.stringify(f.fits)}, { ...DEFAULT_RENDER, maxDim: 2048, minDim: 64 });`);
    const grade = child(`
      const { runMosaic } = await import(${dist('daemons/thumbnail-worker/mosaic-task.js')});
      const { DEFAULT_THRESHOLDS } = await import(${dist('lib/mosaic/qa/index.js')});
      runMosaic({ kind: 'mosaic', mosaicPath: ${JSON.stringify(f.fits)}, weightsPath: ${JSON.stringify(f.weights)},
        outputDir: ${JSON.stringify(path.join(dir, 'png'))}, maxDim: 2048, maxPixels: 4e8, stripBytes: 2097152,
        pngLevel: 6, innerWeightFraction: 0.5, sampleMax: 2e6, thresholds: DEFAULT_THRESHOLDS, calibrators: [],
        referenceSourcesFile: null, footprint: { centers: [], radiusDeg: 0 }, beamDegFallback: null });`);
    const mpx = (nx * ny) / 1e6;
    console.log(
      `${nx}×${ny} (${mpx.toFixed(0)} Mpx): grade/render ${(grade.ms / render.ms).toFixed(2)}×; ` +
        `grade ${grade.ms.toFixed(0)} ms (${((grade.ms * 1e6) / (nx * ny)).toFixed(0)} ns/px), ${grade.mb.toFixed(0)} MB peak; ` +
        `render ${render.ms.toFixed(0)} ms, ${render.mb.toFixed(0)} MB peak`,
    );
    fs.rmSync(f.fits);
    fs.rmSync(f.weights);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
