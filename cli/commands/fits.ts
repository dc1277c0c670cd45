// contimg fits stats|header FILE: statistics (with astropy-exact zscale) and metadata of a FITS image.
import type { Command } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../../lib/fits/look.js';
import { numberOption, printJson, UsageError } from '../util.js';

function parseContrast(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--contrast: expected a number ≥ 0, got "${v}"`);
  return n;
}

export function register(program: Command): void {
  const fits = program.command('fits').description('inspect FITS images (our own reader, no Python)');
  fits
    .command('stats <file>')
    .description("statistics of the first image HDU's first plane in FITS row order, with zscale limits")
    .option('--contrast <c>', 'zscale contrast (astropy default 0.25)', parseContrast, 0.25)
    .option('--plane <n>', 'plane index over axes 3..N', numberOption('--plane', { integer: true }))
    .option(
      '--max-pixels <n>',
      'refuse planes with more pixels (TOO_LARGE), as the daemon does',
      numberOption('--max-pixels', { integer: true, min: 1 }),
      DEFAULT_MAX_PIXELS,
    )
    .option('--json', 'print JSON only')
    .action(
      async (file: string, opts: { contrast: number; plane?: number; maxPixels: number; json?: boolean }) => {
        const { planeStats } = await import('../../lib/fits/index.js');
        const r = planeStats(file, {
          contrast: opts.contrast,
          select: { plane: opts.plane },
          maxPixels: opts.maxPixels,
        });
        if (opts.json) return printJson(r);
        process.stdout.write(
          `${file}: HDU ${r.hdu} BITPIX ${r.bitpix} shape ${r.shape.join('×')} plane ${r.plane} (${r.planeNx}×${r.planeNy})\n` +
            `  finite ${r.nFinite}, non-finite ${r.nNonFinite}; min ${r.min} max ${r.max} sum ${r.sum}\n` +
            `  mean ${r.mean} std ${r.std} median ${r.median} madStd ${r.madStd} DR ${r.dynamicRange}\n` +
            `  zscale(${r.contrast}) ${r.zscale ? r.zscale.join(' .. ') : 'none'}\n`,
        );
      },
    );
  fits
    .command('header <file>')
    .description('metadata of the first image HDU (beam, frequency, coordinates, dates)')
    .option('--json', 'print JSON only')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { headerMetadata } = await import('../../lib/fits/file-metadata.js');
      const m = headerMetadata(file);
      if (opts.json) return printJson(m);
      for (const [k, v] of Object.entries(m)) {
        if (k !== 'axes' && k !== 'wsc') process.stdout.write(`${k.padEnd(16)} ${JSON.stringify(v)}\n`);
      }
    });
}
