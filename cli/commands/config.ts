// contimg check-config: validate offline; exit 0 or 78. --print-config shows the resolved config, redacted.
import type { Command } from 'commander';
import { printJson, requireConfig } from '../util.js';

export function register(program: Command): void {
  program
    .command('check-config')
    .description('validate the config file offline (exit 0, or 78 with the key path of each problem)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--print-config', 'print the resolved config with defaults filled in and secrets redacted')
    .action(async (opts: { config?: string; printConfig?: boolean }) => {
      const cfg = requireConfig(opts.config);
      const { redact } = await import('../../lib/config/index.js');
      if (opts.printConfig) printJson(redact(cfg));
      else process.stdout.write('config ok\n');
    });
}
