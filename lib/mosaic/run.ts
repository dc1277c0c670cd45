// The mosaic builder as a command: read and parse the manifest, build, write the result JSON atomically.
// A manifest that cannot be read is an I/O failure (exit 2, `io`); one that does not fit the contract is
// `bad_manifest` with exit 5 (not retriable: the same manifest fails the same way again).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../fits/atomic.js';
import { buildMosaic, type BuildOptions, type BuildOutcome } from './build.js';
import { BUILD_EXIT, MosaicContractError, parseManifest, type MosaicResult } from './manifest.js';

let version: string | undefined;
/** `contimg-mosaic-build/<package version>`, the result's builder_version and the BUILDER keyword. */
export function builderVersion(): string {
  if (version) return version;
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const v = (JSON.parse(fs.readFileSync(path.join(here, rel), 'utf8')) as { version: string }).version;
      return (version = `contimg-mosaic-build/${v}`);
    } catch {
      /* the other layout (source vs dist) */
    }
  }
  return (version = 'contimg-mosaic-build/0.0.0');
}

function failed(exitCode: number, code: MosaicResult['error_code'], error: string): BuildOutcome {
  return {
    exitCode,
    result: {
      ok: false,
      error_code: code,
      error,
      outputs: null,
      n_used: 0,
      skipped: [],
      grid: null,
      stats: null,
      builder_version: builderVersion(),
    },
  };
}

export async function runMosaicBuild(
  manifestPath: string,
  resultPath: string,
  opts: Omit<BuildOptions, 'builderVersion'> = {},
): Promise<BuildOutcome> {
  let outcome: BuildOutcome;
  let text: string | undefined;
  try {
    text = fs.readFileSync(manifestPath, 'utf8');
  } catch (e) {
    outcome = failed(BUILD_EXIT.io, 'io', `cannot read manifest ${manifestPath}: ${(e as Error).message}`);
  }
  if (text !== undefined) {
    try {
      const m = parseManifest(text);
      outcome = await buildMosaic(m, { ...opts, builderVersion: builderVersion() });
    } catch (e) {
      if (!(e instanceof MosaicContractError)) throw e;
      outcome = failed(BUILD_EXIT.validation, 'bad_manifest', e.message);
    }
  }
  outcome = outcome!;
  // The peak after the files are written, which the build's own figure cannot include.
  if (outcome.result.stats && opts.peakRssBytes) outcome.result.stats.peak_rss_bytes = opts.peakRssBytes();
  try {
    fs.mkdirSync(path.dirname(resultPath), { recursive: true });
    writeFileAtomic(resultPath, Buffer.from(`${JSON.stringify(outcome.result, null, 2)}\n`));
  } catch (e) {
    opts.log?.(`cannot write result ${resultPath}: ${(e as Error).message}`);
    return { exitCode: BUILD_EXIT.io, result: outcome.result };
  }
  return outcome;
}
