// contimg convert-check --manifest M --out O --result R: the built-in conversion check used as the local
// converter. Re-checks file identities, reads all headers, verifies one consistent observation, writes a
// JSON summary to O (via O.partial + rename) and {ok, ms_path, metrics, error_code, error} to R.
// Exit codes follow the converter contract: 0 ok, 2 I/O error, 5 validation error.
import fs from 'node:fs';
import type { Command } from 'commander';

interface Manifest {
  group_id: string;
  expected_subbands: number;
  partial?: boolean;
  files: { subband: number; path: string; size: number; mtime_ms: number; inode: number }[];
}

class CheckFailure extends Error {
  constructor(
    readonly exitCode: 2 | 5,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

function readManifest(p: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    throw new CheckFailure(2, 'io', `cannot read manifest ${p}: ${(e as Error).message}`);
  }
  const m = raw as Manifest;
  if (!m || typeof m.group_id !== 'string' || !Array.isArray(m.files))
    throw new CheckFailure(5, 'validation', 'manifest lacks group_id or files');
  return m;
}

function checkIdentity(f: Manifest['files'][number]): void {
  let s: fs.Stats;
  try {
    s = fs.statSync(f.path);
  } catch (e) {
    throw new CheckFailure(2, 'io', `${f.path}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  if (s.size !== f.size || Math.floor(s.mtimeMs) !== Math.floor(f.mtime_ms) || s.ino !== f.inode)
    throw new CheckFailure(
      5,
      'validation',
      `${f.path} changed since dispatch (size/mtime/inode differ from the manifest)`,
    );
}

async function check(manifestPath: string, out: string, started: number): Promise<Record<string, unknown>> {
  const { readUvh5Header, checkObservation } = await import('../../lib/uvh5/index.js');
  const m = readManifest(manifestPath);
  const subs = m.files.map((f) => {
    checkIdentity(f);
    try {
      return { subband: f.subband, header: readUvh5Header(f.path) };
    } catch (e) {
      throw new CheckFailure(5, 'validation', (e as Error).message);
    }
  });
  const summary = checkObservation(subs, m.expected_subbands, m.partial === true);
  if (!summary.ok) throw new CheckFailure(5, 'validation', summary.problems.join('; '));
  const doc = {
    group_id: m.group_id,
    checked_at: new Date().toISOString(),
    files: m.files.map((f) => f.path),
    ...summary,
  };
  try {
    fs.writeFileSync(`${out}.partial`, JSON.stringify(doc, null, 2));
    fs.renameSync(`${out}.partial`, out);
  } catch (e) {
    throw new CheckFailure(2, 'io', `cannot write ${out}: ${(e as Error).message}`);
  }
  return { files_processed: subs.length, total_time_s: (Date.now() - started) / 1000 };
}

function writeResult(p: string, result: Record<string, unknown>): void {
  fs.writeFileSync(`${p}.tmp`, JSON.stringify(result, null, 2));
  fs.renameSync(`${p}.tmp`, p);
}

export function register(program: Command): void {
  program
    .command('convert-check')
    .description(
      'built-in conversion check: verify a group manifest forms one observation (exit 0, 2 I/O, 5 invalid)',
    )
    .requiredOption('--manifest <file>', 'group manifest written by the streaming converter')
    .requiredOption('--out <file>', 'where to write the JSON summary (the "converted" product)')
    .requiredOption('--result <file>', 'result file: {ok, ms_path, metrics, error_code, error}')
    .action(async (opts: { manifest: string; out: string; result: string }) => {
      const started = Date.now();
      try {
        const metrics = await check(opts.manifest, opts.out, started);
        writeResult(opts.result, { ok: true, ms_path: opts.out, metrics, error_code: null, error: null });
        process.stdout.write(`convert-check: ok: ${opts.out}\n`);
      } catch (e) {
        const f = e instanceof CheckFailure ? e : new CheckFailure(2, 'io', (e as Error).message);
        fs.rmSync(`${opts.out}.partial`, { force: true });
        writeResult(opts.result, {
          ok: false,
          ms_path: null,
          metrics: {},
          error_code: f.errorCode,
          error: f.message,
        });
        process.stderr.write(`convert-check: ${f.errorCode}: ${f.message}\n`);
        process.exitCode = f.exitCode;
      }
    });
}
