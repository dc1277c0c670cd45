// contimg thumbnails list|retry|render-all: the thumbnail rows in the state database and what to do with them.
import type { Command } from 'commander';
import type { Config } from '../../lib/config/index.js';
import type { Db } from '../../lib/db/index.js';
import { limitOption, printJson, requireConfig, UsageError } from '../util.js';

const STATUSES = ['pending', 'running', 'done', 'failed', 'skipped'];
const admin = () => import('../../daemons/thumbnail-worker/admin.js');

async function openDbs(cfg: Config, pipeline: boolean): Promise<{ state: Db; pipeline?: Db }> {
  const { openDb } = await import('../../lib/db/index.js');
  const { assertSchema } = await import('../../lib/migrations/index.js');
  const state = openDb({
    name: 'state',
    path: cfg.databases.state,
    busyTimeoutMs: cfg.databases.busyTimeoutMs,
  });
  assertSchema(state, 'state');
  if (!pipeline) return { state };
  const p = openDb({ name: 'pipeline', path: cfg.databases.pipeline, readonly: true });
  return { state, pipeline: p };
}

export function register(program: Command): void {
  const t = program.command('thumbnails').description('thumbnail rows: list, retry, render everything now');
  t.command('list')
    .description('thumbnail rows, newest first')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--status <s>', STATUSES.join('|'))
    .option('--limit <n>', 'rows to show', limitOption, 50)
    .option('--json', 'print JSON only')
    .action(async (opts: { config?: string; status?: string; limit: number; json?: boolean }) => {
      if (opts.status && !STATUSES.includes(opts.status))
        throw new UsageError(`--status: one of ${STATUSES.join(', ')}`);
      const { listThumbnails } = await admin();
      const { state } = await openDbs(requireConfig(opts.config), false);
      const rows = state.read((c) => listThumbnails(c, { status: opts.status, limit: opts.limit }));
      state.close();
      if (opts.json) return printJson(rows);
      for (const r of rows) {
        process.stdout.write(
          `${r.status.padEnd(8)} ${r.variant.padEnd(8)} ${r.fitsPath}  ${r.errorCode ?? r.pngPath ?? ''}\n`,
        );
      }
    });
  t.command('retry')
    .description('send failed (or skipped) rows back to pending; the worker renders them again')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--status <s>', 'failed or skipped', 'failed')
    .option('--path <fits>', 'only this source path')
    .option('--json', 'print JSON only')
    .action(async (opts: { config?: string; status: string; path?: string; json?: boolean }) => {
      if (opts.status !== 'failed' && opts.status !== 'skipped')
        throw new UsageError('--status: failed or skipped');
      const status = opts.status;
      const { retryThumbnails } = await admin();
      const { state } = await openDbs(requireConfig(opts.config), false);
      const r = state.write((c) => retryThumbnails(c, { status, path: opts.path }, Date.now()));
      state.close();
      if (opts.json) return printJson(r);
      process.stdout.write(`requeued ${r.requeued} row(s)\n`);
    });
  t.command('render-all')
    .description('render every matching images row now, in the foreground (no settle wait)')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--progress', 'show progress')
    .option('--json', 'print JSON only')
    .action(async (opts: { config?: string; progress?: boolean; json?: boolean }) => {
      const cfg = requireConfig(opts.config);
      const { state, pipeline } = await openDbs(cfg, true);
      const { renderAll } = await import('../../daemons/thumbnail-worker/batch.js');
      const { silentLogger } = await import('../../lib/log.js');
      const { systemClock } = await import('../../lib/clock.js');
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      const tty = process.stderr.isTTY;
      let last = '';
      const r = await renderAll({
        config: cfg,
        state,
        pipeline: pipeline!,
        clock: systemClock,
        log: silentLogger(),
        signal: ac.signal,
        onProgress: opts.progress
          ? ({ done, total, failed }) => {
              const line = `render-all: ${done}/${total} (${failed} failed)`;
              if (line === last) return;
              last = line;
              process.stderr.write(tty ? `\r${line}` : `${line}\n`);
            }
          : undefined,
      });
      if (opts.progress && tty) process.stderr.write('\n');
      state.close();
      pipeline!.close();
      if (opts.json) return printJson(r);
      process.stdout.write(`rendered ${r.done} of ${r.total}; ${r.failed} failed\n`);
    });
}
