// contimg thumbnail FILE --out PNG: render one FITS image to an indexed PNG (the worker's renderer). The
// defaults are the daemon's default preset and its maxPixels guard (lib/fits/look.ts, one definition).
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_LOOK, DEFAULT_MAX_PIXELS } from '../../lib/fits/look.js';
import { numberOption, printJson, UsageError } from '../util.js';

const INTERVALS = ['zscale', 'percentile', 'minmax'] as const;
const STRETCHES = ['linear', 'sqrt', 'asinh', 'log'] as const;
const CMAPS = ['gray', 'inferno', 'viridis', 'magma'] as const;

function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v))
      throw new UsageError(`${name}: expected one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
}

interface Opts {
  out: string;
  maxDim: number;
  interval: (typeof INTERVALS)[number];
  contrast: number;
  stretch: (typeof STRETCHES)[number];
  colormap: (typeof CMAPS)[number];
  plane?: number;
  stokes?: string;
  channel?: number;
  maxPixels: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('thumbnail <file>')
    .description('render a FITS image to a PNG thumbnail (north up, NaN transparent)')
    .requiredOption('--out <png>', 'output PNG path (written atomically)')
    .option(
      '--max-dim <n>',
      'longest side in pixels',
      numberOption('--max-dim', { integer: true, min: 1 }),
      DEFAULT_LOOK.maxDim,
    )
    .option('--interval <name>', INTERVALS.join('|'), oneOf('--interval', INTERVALS), DEFAULT_LOOK.interval)
    .option('--contrast <c>', 'zscale contrast', numberOption('--contrast'), DEFAULT_LOOK.contrast)
    .option('--stretch <name>', STRETCHES.join('|'), oneOf('--stretch', STRETCHES), DEFAULT_LOOK.stretch)
    .option('--colormap <name>', CMAPS.join('|'), oneOf('--colormap', CMAPS), DEFAULT_LOOK.colormap)
    .option(
      '--plane <n>',
      'plane index over axes 3..N (default 0)',
      numberOption('--plane', { integer: true }),
    )
    .option('--stokes <s>', 'Stokes plane: I, Q, U or V')
    .option('--channel <n>', 'spectral channel index', numberOption('--channel', { integer: true }))
    .option(
      '--max-pixels <n>',
      'refuse planes with more pixels (TOO_LARGE), as the daemon does',
      numberOption('--max-pixels', { integer: true, min: 1 }),
      DEFAULT_MAX_PIXELS,
    )
    .option('--json', 'print JSON only')
    .action(async (file: string, opts: Opts) => {
      const { renderThumbnail } = await import('../../lib/fits/index.js');
      const { writeFileAtomic } = await import('../../lib/fits/atomic.js');
      if (opts.maxDim < 1) throw new UsageError('--max-dim must be at least 1');
      const stokes =
        opts.stokes === undefined ? undefined : oneOf('--stokes', ['I', 'Q', 'U', 'V'] as const)(opts.stokes);
      const r = renderThumbnail(file, {
        maxDim: opts.maxDim,
        interval: opts.interval,
        contrast: opts.contrast,
        stretch: opts.stretch,
        colormap: opts.colormap,
        select: { plane: opts.plane, stokes, channel: opts.channel },
        maxPixels: opts.maxPixels,
      });
      fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
      writeFileAtomic(opts.out, r.png);
      const out = {
        path: path.resolve(opts.out),
        width: r.width,
        height: r.height,
        vmin: r.vmin,
        vmax: r.vmax,
        nFinite: r.nFinite,
        renderMs: Math.round(r.timings.total * 1000) / 1000,
        plane: r.plane,
        nx: r.nx,
        ny: r.ny,
        bitpix: r.bitpix,
        pngBytes: r.png.length,
        interval: opts.interval,
        contrast: opts.contrast,
        stretch: opts.stretch,
        colormap: opts.colormap,
        /** Peak resident memory of this process (bench and the memory test read it). */
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
      };
      if (opts.json) return printJson(out);
      process.stdout.write(
        `${out.path}: ${out.width}×${out.height}, limits ${out.vmin} .. ${out.vmax}, ${out.renderMs} ms\n`,
      );
    });
}
