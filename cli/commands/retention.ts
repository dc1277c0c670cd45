// contimg retention run: prune the state database's history tables once, now (what the scheduler's daily
// retention job does), and print the rows removed per table. Safe while the daemons run: small batches, and
// the retention lease keeps two pruners apart (exit 4 when another holds it).
import type { Command } from 'commander';
import { printJson, requireConfig, withDatabase } from '../util.js';

export function register(program: Command): void {
  const cmd = program.command('retention').description('prune history tables by the `retention` config');
  cmd
    .command('run')
    .description('prune once, now, and print the rows removed per table')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (o: { config?: string; json?: boolean }) => {
      const config = requireConfig(o.config);
      const { runRetention } = await import('../../lib/retention.js');
      const { systemClock } = await import('../../lib/clock.js');
      const { InvalidStateError, ContimgError } = await import('../../lib/errors.js');
      let r;
      try {
        r = await withDatabase(config, 'state', (db) =>
          runRetention({ db, config: config.retention, clock: systemClock }),
        );
      } catch (e) {
        // Another pruner holds the lease: the "locked" exit code, like a busy database.
        if (e instanceof InvalidStateError) throw new ContimgError(e.message, { code: 'LEASE_BUSY' });
        throw e;
      }
      if (o.json) return printJson(r);
      for (const [table, n] of Object.entries(r.removed))
        process.stdout.write(
          `${table.padEnd(16)} ${String(n).padStart(9)} removed  (keeping since ${r.keptSince[table] ?? 'forever'})\n`,
        );
      process.stdout.write(`${r.batches} batches in ${r.durationMs} ms\n`);
    });
}
