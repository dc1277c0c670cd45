// The converter benches' environment: a temp folder with incoming/ and staging/, migrated state and pipeline
// databases, and a parsed config with the bench's streamingConverter keys (port 0, settleS 1, no disk gate).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type Config } from '../lib/config/index.js';
import { migrateUp } from '../lib/migrations/index.js';

export interface ConverterBenchEnv {
  dir: string;
  incoming: string;
  staging: string;
  state: string;
  config: Config;
}

export async function converterBenchEnv(
  name: string,
  section: Record<string, unknown>,
): Promise<ConverterBenchEnv> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `contimg-bench-${name}-`));
  const incoming = path.join(dir, 'incoming');
  const staging = path.join(dir, 'staging');
  fs.mkdirSync(incoming);
  fs.mkdirSync(staging);
  const state = path.join(dir, 'state.sqlite3');
  const pipeline = path.join(dir, 'pipeline.sqlite3');
  await migrateUp({ path: state, set: 'state', backup: false });
  await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
  const config = parseConfig(
    {
      dataDir: dir,
      databases: { state, pipeline },
      streamingConverter: { port: 0, incomingDir: incoming, settleS: 1, minFreeGb: 0, ...section },
    },
    dir,
  );
  return { dir, incoming, staging, state, config };
}
