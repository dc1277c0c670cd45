// bench/thumbnail: 4096² and 8192² BITPIX −32 4-D images → 512 px PNG. Prints the median render time and the
// peak RSS of a fresh child process per size (our renderer from dist/, so build first), and, when Debian's
// python3-astropy and python3-matplotlib are installed, the same run's ratio against astropy ZScaleInterval
// + matplotlib savefig, in-process (render only) and as whole processes (imports included).
//   npx tsc -p tsconfig.build.json && npx tsx bench/thumbnail.ts [--reps 7] [--sizes 4096,8192]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSimulatedImage } from '../lib/sim/fits-images.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist/lib/fits/index.js');
const cli = path.join(root, 'dist/cli/contimg.js');
const PY = '/usr/bin/python3';
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt('--reps', '7'));
const sizes = opt('--sizes', '4096,8192').split(',').map(Number);
const GOALS: Record<number, { ms: number; mb: number }> = {
  4096: { ms: 100, mb: 128 },
  8192: { ms: 400, mb: 160 },
};

interface Run {
  medianMs: number;
  peakMb: number;
  /** Median per-stage times of the in-process renders (renderThumbnail's timings). */
  stages?: Record<string, number>;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Our renderer in a fresh process: reps renders, median time, the process's peak RSS. */
function tsInProcess(file: string): Run {
  const code = `
    import { renderThumbnail } from ${JSON.stringify('file://' + dist)};
    import { performance } from 'node:perf_hooks';
    const times = [], timings = [];
    for (let i = 0; i < ${reps}; i++) { const t = performance.now(); timings.push(renderThumbnail(${JSON.stringify(file)}).timings); times.push(performance.now() - t); }
    console.log(JSON.stringify({ times, timings, maxRss: process.resourceUsage().maxRSS * 1024 }));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }),
  ) as { times: number[]; timings: Record<string, number>[]; maxRss: number };
  const stages = Object.fromEntries(
    ['readDownsample', 'limits', 'encode'].map((k) => [k, median(out.timings.map((t) => t[k]))]),
  );
  return { medianMs: median(out.times), peakMb: out.maxRss / 2 ** 20, stages };
}

/**
 * One whole process per render: wall time and peak RSS (median of reps runs). 'lib' is a bare node process
 * importing lib/fits (like-for-like with the Python script); 'cli' is `contimg thumbnail`, which also loads
 * every CLI command module.
 */
function tsWholeProcess(file: string, outPng: string, kind: 'lib' | 'cli'): Run {
  const walls: number[] = [];
  const rss: number[] = [];
  const code = `
    import { renderThumbnail, writeFileAtomic } from ${JSON.stringify('file://' + dist)};
    writeFileAtomic(${JSON.stringify(outPng)}, renderThumbnail(${JSON.stringify(file)}).png);
    console.log(JSON.stringify({ peakRssBytes: process.resourceUsage().maxRSS * 1024 }));`;
  const argv =
    kind === 'lib'
      ? ['--input-type=module', '-e', code]
      : [cli, 'thumbnail', file, '--out', outPng, '--json'];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const out = execFileSync(process.execPath, argv, { encoding: 'utf8' });
    walls.push(performance.now() - t);
    rss.push((JSON.parse(out) as { peakRssBytes: number }).peakRssBytes / 2 ** 20);
  }
  return { medianMs: median(walls), peakMb: median(rss) };
}

const PY_RENDER = `
import sys, time, json, resource
t0 = time.perf_counter()
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from astropy.io import fits
from astropy.visualization import ZScaleInterval, LinearStretch, ImageNormalize
t_imp = time.perf_counter() - t0
path, reps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
times = []
for _ in range(reps):
    t = time.perf_counter()
    data = fits.getdata(path)[0, 0]
    vmin, vmax = ZScaleInterval(contrast=0.2).get_limits(data)
    fig = plt.figure(figsize=(5.12, 5.12), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1]); ax.set_axis_off()
    ax.imshow(data, origin="lower", cmap="inferno", norm=ImageNormalize(vmin=vmin, vmax=vmax, stretch=LinearStretch()))
    fig.savefig(out, dpi=100)
    plt.close(fig)
    del data
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"times": times, "maxRss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "importS": t_imp}))
`;

function pythonAvailable(): boolean {
  const r = spawnSync(PY, ['-c', 'import astropy, matplotlib'], { encoding: 'utf8' });
  return r.status === 0;
}

function pyInProcess(file: string, outPng: string): Run {
  const out = JSON.parse(
    execFileSync(PY, ['-c', PY_RENDER, file, String(reps), outPng], { encoding: 'utf8' }),
  ) as { times: number[]; maxRss: number };
  return { medianMs: median(out.times), peakMb: out.maxRss / 2 ** 20 };
}

function pyWholeProcess(file: string, outPng: string): Run {
  const walls: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < Math.min(reps, 5); i++) {
    const t = performance.now();
    const out = JSON.parse(execFileSync(PY, ['-c', PY_RENDER, file, '1', outPng], { encoding: 'utf8' })) as {
      maxRss: number;
    };
    walls.push(performance.now() - t);
    rss.push(out.maxRss / 2 ** 20);
  }
  return { medianMs: median(walls), peakMb: median(rss) };
}

const fmt = (r: Run): string =>
  `${r.medianMs.toFixed(1).padStart(8)} ms ${r.peakMb.toFixed(1).padStart(7)} MB`;

function main(): void {
  if (!fs.existsSync(dist) || !fs.existsSync(cli))
    throw new Error('build first: npx tsc -p tsconfig.build.json');
  const dir = path.join(os.tmpdir(), 'contimg-bench-thumbnail');
  fs.mkdirSync(dir, { recursive: true });
  const py = pythonAvailable();
  process.stdout.write(
    `node ${process.versions.node}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; reps ${reps}; python: ${py ? 'astropy + matplotlib (Debian)' : 'not installed'}\n`,
  );
  for (const n of sizes) {
    const file = path.join(dir, `sim${n}.fits`);
    if (!fs.existsSync(file))
      writeSimulatedImage({ dir, name: `sim${n}.fits`, nx: n, ny: n, seed: 1, nSources: 300 });
    const png = path.join(dir, `sim${n}.png`);
    const ts = tsInProcess(file);
    const tsWhole = tsWholeProcess(file, png, 'lib');
    const tsCli = tsWholeProcess(file, png, 'cli');
    const goal = GOALS[n];
    process.stdout.write(`\n${n}² (${(fs.statSync(file).size / 1e6).toFixed(1)} MB file)\n`);
    process.stdout.write(
      `  ours, in-process render     ${fmt(ts)}${goal ? `   goal ≤ ${goal.ms} ms, ≤ ${goal.mb} MB: ${ts.medianMs <= goal.ms && ts.peakMb <= goal.mb ? 'met' : 'NOT met'}` : ''}\n`,
    );
    const st = Object.entries(ts.stages ?? {}).map(([k, v]) => `${k} ${v.toFixed(1)}`);
    process.stdout.write(`    stages (median ms): ${st.join(', ')}\n`);
    process.stdout.write(`  ours, whole process (lib)   ${fmt(tsWhole)}\n`);
    process.stdout.write(`  ours, contimg thumbnail     ${fmt(tsCli)}\n`);
    if (!py) continue;
    const pyIn = pyInProcess(file, path.join(dir, `sim${n}-py.png`));
    const pyWhole = pyWholeProcess(file, path.join(dir, `sim${n}-py.png`));
    process.stdout.write(`  astropy+matplotlib, in-proc ${fmt(pyIn)}\n`);
    process.stdout.write(`  astropy+matplotlib, process ${fmt(pyWhole)}\n`);
    process.stdout.write(
      `  ratio in-process: ${(pyIn.medianMs / ts.medianMs).toFixed(1)}× faster, ${(pyIn.peakMb / ts.peakMb).toFixed(1)}× less memory; ` +
        `whole process: ${(pyWhole.medianMs / tsWhole.medianMs).toFixed(1)}× faster, ${(pyWhole.peakMb / tsWhole.peakMb).toFixed(1)}× less memory\n`,
    );
  }
}

main();
