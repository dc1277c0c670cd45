// contimg status: each daemon's /readyz (on the configured host and port) and both databases' schema
// version against this build's head. Exit 0 when every daemon asked about is ready, 1 otherwise.
import type { Command } from 'commander';
import type { Config } from '../../lib/config/index.js';
import { DAEMONS, type DaemonName } from '../../lib/daemon/types.js';
import { reachableHost } from '../../lib/http/reach.js';
import { printJson, requireConfig, UsageError } from '../util.js';

interface DaemonStatus {
  daemon: string;
  url: string;
  up: boolean;
  ready: boolean;
  checks?: Record<string, { ok: boolean; detail?: string }>;
  error?: string;
}

interface DbStatus {
  db: string;
  path: string;
  schemaVersion: number | null;
  head: number;
  walBytes: number | null;
  error?: string;
}

async function probe(cfg: Config, name: DaemonName, token: string | undefined): Promise<DaemonStatus> {
  const port = (cfg[DAEMONS[name].section] as { port: number }).port;
  const url = `http://${reachableHost(cfg.http.host)}:${port}/readyz`;
  try {
    const res = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await res.json()) as { ready?: boolean; checks?: DaemonStatus['checks'] };
    return {
      daemon: name,
      url,
      up: true,
      ready: res.status === 200 && body.ready === true,
      checks: body.checks,
    };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { daemon: name, url, up: false, ready: false, error: cause ?? (e as Error).message };
  }
}

async function dbStatus(cfg: Config): Promise<DbStatus[]> {
  const { openDb } = await import('../../lib/db/index.js');
  const { headVersion } = await import('../../lib/migrations/index.js');
  const out: DbStatus[] = [];
  for (const set of ['state', 'pipeline'] as const) {
    const file = cfg.databases[set];
    const head = headVersion(set);
    try {
      const db = openDb({ name: set, path: file, readonly: true });
      try {
        const h = db.health();
        out.push({ db: set, path: file, schemaVersion: h.schemaVersion, head, walBytes: h.walBytes });
      } finally {
        db.close();
      }
    } catch (e) {
      out.push({
        db: set,
        path: file,
        schemaVersion: null,
        head,
        walBytes: null,
        error: (e as Error).message,
      });
    }
  }
  return out;
}

function printText(daemons: DaemonStatus[], dbs: DbStatus[]): void {
  const lines = daemons.map((d) => {
    const state = !d.up ? `down (${d.error})` : d.ready ? 'ready' : 'NOT READY';
    const failing = Object.entries(d.checks ?? {})
      .filter(([, c]) => !c.ok)
      .map(([k, c]) => `${k}: ${c.detail ?? 'failing'}`);
    return `${d.daemon.padEnd(20)} ${state}${failing.length ? `  [${failing.join('; ')}]` : ''}`;
  });
  for (const d of dbs) {
    const v = d.schemaVersion === null ? `unreadable (${d.error})` : `schema ${d.schemaVersion}/${d.head}`;
    lines.push(`${`db ${d.db}`.padEnd(20)} ${v}${d.walBytes ? `  wal ${d.walBytes} B` : ''}  ${d.path}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('status')
    .description(
      "each daemon's readiness and both databases' schema versions (exit 1 if a daemon is not ready)",
    )
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--daemon <name>', 'ask only this daemon')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; daemon?: string; json?: boolean }) => {
      const cfg = requireConfig(opts.config);
      const names = Object.keys(DAEMONS) as DaemonName[];
      if (opts.daemon !== undefined && !names.includes(opts.daemon as DaemonName)) {
        throw new UsageError(`unknown daemon "${opts.daemon}": expected one of ${names.join(', ')}`);
      }
      const { resolveHttpToken } = await import('../../lib/http/auth.js');
      const token = resolveHttpToken(cfg.http);
      const asked = opts.daemon ? [opts.daemon as DaemonName] : names;
      const daemons = await Promise.all(asked.map((n) => probe(cfg, n, token)));
      const dbs = await dbStatus(cfg);
      if (opts.json) printJson({ daemons, databases: dbs });
      else printText(daemons, dbs);
      if (daemons.some((d) => !d.ready)) process.exitCode = 1;
    });
}
