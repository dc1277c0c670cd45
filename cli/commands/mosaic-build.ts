// contimg mosaic-build --manifest M --result R: the TypeScript reference mosaic builder, run out of process by
// the scheduler's mosaic dispatcher exactly as the converter runs `contimg convert-check` (docs/mosaic-builder.md).
// Exit codes are the builder contract's: 0 ok (result.ok and both files written), 2 I/O, 5 validation or a bad
// manifest (result.error_code says which), 8 build error, 143 stopped by SIGTERM. The result JSON is always
// written when the result path is writable.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('mosaic-build')
    .description('build a linear mosaic from a manifest (exit 0 ok, 2 I/O, 5 validation, 8 build error)')
    .requiredOption('--manifest <file>', 'the manifest the mosaic dispatcher wrote')
    .requiredOption('--result <file>', 'where to write the result JSON')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (opts: { manifest: string; result: string; quiet?: boolean }) => {
      const { runMosaicBuild } = await import('../../lib/mosaic/run.js');
      let stop = false;
      const onTerm = (): void => {
        stop = true;
      };
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onTerm);
      try {
        const { exitCode, result } = await runMosaicBuild(opts.manifest, opts.result, {
          stopRequested: () => stop,
          peakRssBytes: () => process.resourceUsage().maxRSS * 1024,
          log: opts.quiet ? undefined : (msg) => process.stderr.write(`mosaic-build: ${msg}\n`),
        });
        if (result.ok) process.stdout.write(`mosaic-build: ok: ${result.outputs?.fits ?? ''}\n`);
        else process.stderr.write(`mosaic-build: ${result.error_code ?? 'error'}: ${result.error ?? ''}\n`);
        process.exitCode = stop && !result.ok ? 143 : exitCode;
      } finally {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onTerm);
      }
    });
}
