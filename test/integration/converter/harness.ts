// Shared setup for the converter's integration and acceptance tests: a temp data folder with migrated
// databases, a config, subband files written the way the telescope delivers them, and the fake converter.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parseConfig, type Config } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { createLogger, silentLogger } from '../../../lib/log.js';
import type { SecretScrubber } from '../../../lib/redact.js';
import { subbandFileName, writeSubbandFile, type SubbandSpec } from '../../../lib/uvh5/writer.js';
import { makeRun, type RunOptions } from '../../../daemons/streaming-converter/run.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir } from '../../helpers/tmp.js';

import { fakeArgv } from '../../fixtures/converters/argv.js';

export { FAKE, fakeArgv } from '../../fixtures/converters/argv.js';
export const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

export interface Env {
  dir: string;
  incoming: string;
  out: string;
  scratch: string;
  log: string;
  statePath: string;
  raw: Record<string, unknown>;
  config: Config;
}

export async function makeEnv(section: Record<string, unknown> = {}): Promise<Env> {
  const dir = makeTmpDir('contimg-conv-');
  const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
  const incoming = path.join(dir, 'incoming');
  fs.mkdirSync(incoming);
  const raw = {
    dataDir: dir,
    databases: { state: statePath, pipeline: pipelinePath },
    log: { level: 'warn' },
    streamingConverter: {
      port: 0,
      incomingDir: incoming,
      settleS: 0.2,
      scanIntervalS: 0.5,
      minFreeGb: 0,
      watchDebounceMs: 20,
      retryBaseS: 0.2,
      retryMaxS: 1,
      killGraceS: 1,
      converter: { argv: fakeArgv('ok'), timeoutS: 20 },
      ...section,
    },
  };
  const config = parseConfig(raw, dir);
  const c = config.streamingConverter;
  return {
    dir,
    incoming,
    out: c.outputDir,
    scratch: c.scratchDir,
    log: path.join(dir, 'fake.log'),
    statePath,
    raw,
    config,
  };
}

export function writeConfigFile(env: Env): string {
  const p = path.join(env.dir, 'contimg.yaml');
  fs.writeFileSync(p, JSON.stringify(env.raw, null, 2));
  return p;
}

/** Write one subband file by temp name + rename (as rsync does), or in place. */
export function writeSubband(
  dir: string,
  obsMs: number,
  subband: number,
  o: { jitterS?: number; inPlace?: boolean; spec?: Partial<SubbandSpec> } = {},
): string {
  const name = subbandFileName(obsMs + (o.jitterS ?? 0) * 1000, subband);
  const final = path.join(dir, name);
  const spec = { subband, startMs: obsMs, decRad: 0.97, ...o.spec };
  if (o.inPlace) writeSubbandFile(final, spec);
  else {
    const tmp = path.join(dir, `.${name}.tmp`);
    writeSubbandFile(tmp, spec);
    fs.renameSync(tmp, final);
  }
  return final;
}

export function writeGroupFiles(
  dir: string,
  obsMs: number,
  o: { skip?: number[]; jitter?: (sb: number) => number } = {},
): string[] {
  const out: string[] = [];
  for (let sb = 0; sb < 16; sb++) {
    if (o.skip?.includes(sb)) continue;
    out.push(writeSubband(dir, obsMs, sb, { jitterS: o.jitter?.(sb) ?? 0, inPlace: sb % 3 === 0 }));
  }
  return out;
}

export interface FakeLine {
  event: string;
  mode: string;
  pid: number;
  group: string;
  files: number;
  subbands?: number[];
  t: number;
  /** On start lines: the process's start ticks (identifies it across pid reuse). */
  ticks?: number;
  /** On overlap lines: earlier runs of the same group still alive when this one started. */
  with?: number[];
}

export function fakeLog(env: Env): FakeLine[] {
  if (!fs.existsSync(env.log)) return [];
  return fs
    .readFileSync(env.log, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FakeLine);
}

/**
 * startInProcess with a real root logger (info and up, or `level`) whose JSON lines the test can read, and
 * the daemon's test hooks.
 */
export async function startLogged(
  env: Env,
  o: { level?: string; scrubber?: SecretScrubber; hooks?: RunOptions } = {},
): Promise<{ daemon: RunningDaemon; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    daemon: 'streaming-converter',
    level: o.level,
    destination: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
    scrubber: o.scrubber,
  });
  const daemon = await startDaemon({
    name: 'streaming-converter',
    run: makeRun({ baseEnv: { ...process.env, FAKE_CONVERTER_LOG: env.log }, ...o.hooks }),
    config: env.config,
    log,
    port: 0,
  });
  return { daemon, lines };
}

export function startInProcess(env: Env, opts: RunOptions = {}): Promise<RunningDaemon> {
  return startDaemon({
    name: 'streaming-converter',
    run: makeRun({ baseEnv: { ...process.env, FAKE_CONVERTER_LOG: env.log }, ...opts }),
    config: env.config,
    log: silentLogger(),
    port: 0,
  });
}

/** Read-only peek at the state DB from the test (a separate connection, as another process would). */
export function query<T>(env: Env, sql: string, ...params: unknown[]): T[] {
  const db = new Database(env.statePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export interface GroupRowLite {
  group_id: string;
  state: string;
  attempts: number;
  n_valid: number;
  output_path: string | null;
  error: string | null;
  /** The conversions job's run_at while it waits for a retry. */
  next_attempt_at: number | null;
  job_state: string | null;
}

export function groups(env: Env): GroupRowLite[] {
  return query<GroupRowLite>(
    env,
    `SELECT g.group_id, g.state, g.attempts, g.n_valid, g.output_path, g.error,
       CASE WHEN j.state = 'queued' THEN j.run_at END AS next_attempt_at, j.state AS job_state
     FROM converter_groups g LEFT JOIN jobs j ON j.id = g.job_id ORDER BY g.anchor_ms`,
  );
}

export function events(env: Env, type?: string): { type: string; payload: string }[] {
  return type
    ? query(env, 'SELECT type, payload FROM events WHERE type = ? ORDER BY seq', type)
    : query(env, 'SELECT type, payload FROM events ORDER BY seq');
}

export interface JobLite {
  id: number;
  state: string;
  attempts: number;
  max_attempts: number;
  dedupe_key: string;
  lease_token: number;
  parent_id: number | null;
}

/** The `conversions` queue's jobs, oldest first. */
export function conversionJobs(env: Env): JobLite[] {
  return query<JobLite>(
    env,
    `SELECT id, state, attempts, max_attempts, dedupe_key, lease_token, parent_id FROM jobs
     WHERE queue = 'conversions' ORDER BY id`,
  );
}
