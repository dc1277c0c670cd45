// bench/cli-start: how fast `contimg` starts and what a whole-process `contimg thumbnail` costs, before (a git
// ref, default main, built in a temp folder) and after (this build), in one run, interleaved round by round so
// the shared machine's noise falls on both alike. Ratios first, then the medians. Goals (issue 14):
// `contimg --version`, `--help` and `lst` within 2× of `node -e ''`; `contimg thumbnail` of a 4096² 4-D image
// ≥ 4× faster than astropy ZScaleInterval + matplotlib savefig as a whole process, with ≥ 4× less peak memory.
// Wall time around each process (median and minimum: the minimum is the least disturbed by other load on the
// machine), CPU time (user + system) and peak RSS from GNU time (`/usr/bin/time -f '%U %S %M'`), medians.
// Commands run in an empty
// folder with no config anywhere (none of these commands needs one). Python is Debian's
// (python3-astropy, python3-matplotlib; pip is not used).
//   npm run build && npx tsx bench/cli-start.ts [--rounds 15] [--baseline main] [--size 4096]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LOOK } from '../lib/fits/look.js';
import { writeSimulatedImage } from '../lib/sim/fits-images.js';
import { buildBaseline, median, REPO } from './baseline.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const rounds = Number(opt('--rounds', '15'));
const size = Number(opt('--size', '4096'));
const PY = '/usr/bin/python3';
const TIME = '/usr/bin/time';

/** One render as a whole process, the way an operator would script it with astropy and matplotlib. */
const PY_THUMBNAIL = `
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from astropy.io import fits
from astropy.visualization import ImageNormalize, LinearStretch, ZScaleInterval
path, out, contrast, cmap = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
data = fits.getdata(path)[0, 0]
vmin, vmax = ZScaleInterval(contrast=contrast).get_limits(data)
fig = plt.figure(figsize=(5.12, 5.12), dpi=100)
ax = fig.add_axes([0, 0, 1, 1])
ax.set_axis_off()
ax.imshow(data, origin="lower", cmap=cmap, norm=ImageNormalize(vmin=vmin, vmax=vmax, stretch=LinearStretch()))
fig.savefig(out, dpi=100)
`;

interface Sample {
  ms: number;
  cpuMs: number;
  mb: number;
}

/** Run argv to completion under GNU time; wall ms, CPU ms and peak RSS MB. Fails loudly on a non-zero exit. */
function measure(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Sample {
  const rss = path.join(cwd, '.rss');
  const t = performance.now();
  const r = spawnSync(TIME, ['-f', '%U %S %M', '-o', rss, ...argv], {
    cwd,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ms = performance.now() - t;
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(-500)}`);
  const [user, sys, kb] = fs.readFileSync(rss, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { ms, cpuMs: (user + sys) * 1000, mb: kb / 1024 };
}

function pythonReady(): boolean {
  return spawnSync(PY, ['-c', 'import astropy, matplotlib'], { stdio: 'ignore' }).status === 0;
}

function main(): void {
  const after = REPO;
  if (!fs.existsSync(path.join(after, 'dist/cli/contimg.js'))) throw new Error('build first: npm run build');
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} is missing (Debian package "time")`);
  const dir = path.join(os.tmpdir(), 'contimg-bench-cli-start');
  const work = path.join(dir, 'cwd');
  fs.mkdirSync(work, { recursive: true });
  const baselineRef = opt('--baseline', 'main');
  const before = buildBaseline(baselineRef, dir);
  const image = path.join(dir, `sim${size}.fits`);
  if (!fs.existsSync(image))
    writeSimulatedImage({ dir, name: `sim${size}.fits`, nx: size, ny: size, seed: 1, nSources: 300 });
  const py = pythonReady();
  // No config anywhere: not in the environment, the working directory or the system-wide place.
  const env = { ...process.env, CONTIMG_CONFIG: '', CONTIMG_SYSTEM_CONFIG: path.join(dir, 'none.yaml') };
  const cli = (tree: string, ...rest: string[]) => [
    process.execPath,
    path.join(tree, 'dist/cli/contimg.js'),
    ...rest,
  ];
  const png = path.join(dir, 'out.png');
  const cases: Record<string, string[]> = {
    "node -e ''": [process.execPath, '-e', ''],
    'before --version': cli(before, '--version'),
    'after --version': cli(after, '--version'),
    'before --help': cli(before, '--help'),
    'after --help': cli(after, '--help'),
    'before lst': cli(before, 'lst'),
    'after lst': cli(after, 'lst'),
    'before thumbnail': cli(before, 'thumbnail', image, '--out', png),
    'after thumbnail': cli(after, 'thumbnail', image, '--out', png),
    ...(py
      ? {
          'astropy+matplotlib': [
            PY,
            '-c',
            PY_THUMBNAIL,
            image,
            png,
            String(DEFAULT_LOOK.contrast),
            DEFAULT_LOOK.colormap,
          ],
        }
      : {}),
  };
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const argv of Object.values(cases)) measure(argv, work, env); // warm the page cache once
  for (let i = 0; i < rounds; i++)
    for (const [name, argv] of Object.entries(cases)) samples[name].push(measure(argv, work, env));
  const ms = (k: string) => median(samples[k].map((s) => s.ms));
  const minMs = (k: string) => Math.min(...samples[k].map((s) => s.ms));
  const cpu = (k: string) => median(samples[k].map((s) => s.cpuMs));
  const mb = (k: string) => median(samples[k].map((s) => s.mb));
  const commit = (tree: string) =>
    execFileSync('git', ['rev-parse', '--short', tree === after ? 'HEAD' : baselineRef], {
      cwd: REPO,
      encoding: 'utf8',
    }).trim();
  const out: string[] = [
    `cli-start: node ${process.versions.node}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}; ${rounds} rounds; before = ${baselineRef} (${commit(before)}), after = this tree (${commit(after)}${
      execFileSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8' }).trim()
        ? ', uncommitted changes'
        : ''
    }); python: ${py ? 'astropy + matplotlib (Debian)' : 'not installed'}`,
    '',
    "ratios to node -e '' (goal ≤ 2.0×) as median wall / minimum wall / median CPU",
  ];
  const ratio = (f: (k: string) => number, k: string): string => (f(k) / f("node -e ''")).toFixed(2);
  for (const what of ['--version', '--help', 'lst']) {
    const [b, a] = [`before ${what}`, `after ${what}`];
    const three = (k: string) => `${ratio(ms, k)}× / ${ratio(minMs, k)}× / ${ratio(cpu, k)}×`;
    const met = Number(ratio(ms, a)) <= 2 && Number(ratio(minMs, a)) <= 2 ? 'met' : 'NOT met';
    out.push(`  contimg ${what.padEnd(10)} before ${three(b)}   after ${three(a)}   ${met}`);
  }
  if (py) out.push('', 'astropy + matplotlib / contimg thumbnail, whole process (goal ≥ 4× on both)');
  if (py) {
    const pyMs = ms('astropy+matplotlib');
    const pyMb = mb('astropy+matplotlib');
    for (const when of ['before', 'after']) {
      const speed = pyMs / ms(`${when} thumbnail`);
      const mem = pyMb / mb(`${when} thumbnail`);
      out.push(
        `  ${size}² 4-D   ${when.padEnd(6)} ${speed.toFixed(2)}× faster (median wall), ${mem.toFixed(2)}× less peak memory   ${speed >= 4 && mem >= 4 ? 'met' : 'NOT met'}`,
      );
    }
  }
  out.push('', 'medians (wall ms, minimum wall ms, CPU ms, peak RSS MB)');
  for (const k of Object.keys(cases))
    out.push(
      `  ${k.padEnd(20)} ${ms(k).toFixed(1).padStart(8)} ${minMs(k).toFixed(1).padStart(8)} ${cpu(k).toFixed(1).padStart(8)} ${mb(k).toFixed(1).padStart(8)}`,
    );
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
