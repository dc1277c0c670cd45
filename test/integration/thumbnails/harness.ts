// Test environment for the thumbnail worker: fresh state and pipeline databases, a config, a writable
// pipeline connection (the test plays the imaging pipeline) and the daemon run in-process.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';
import { systemClock } from '../../../lib/clock.js';
import { parseConfig, type Config } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { silentLogger } from '../../../lib/log.js';
import { Registry } from '../../../lib/metrics.js';
import { Discovery } from '../../../daemons/thumbnail-worker/discovery.js';
import { thumbnailMetrics } from '../../../daemons/thumbnail-worker/metrics.js';
import { presetLooks } from '../../../daemons/thumbnail-worker/presets.js';
import { run } from '../../../daemons/thumbnail-worker/run.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

export interface Env {
  dir: string;
  imagesDir: string;
  outputDir: string;
  statePath: string;
  pipelinePath: string;
  config: Config;
  configFile: string;
}

export async function makeEnv(section: Record<string, unknown> = {}): Promise<Env> {
  const dir = makeTmpDir('thumbs-');
  const { statePath, pipelinePath } = await freshDatabases(dir);
  const imagesDir = path.join(dir, 'images');
  const outputDir = path.join(dir, 'thumbs');
  fs.mkdirSync(imagesDir);
  const raw = {
    dataDir: dir,
    databases: { state: statePath, pipeline: pipelinePath },
    log: { level: 'warn' },
    thumbnailWorker: { outputDir, settleS: 0, pollS: 0.1, reconcileS: 0.3, backoffBaseS: 0.2, ...section },
  };
  const configFile = path.join(dir, 'contimg.yaml');
  fs.writeFileSync(configFile, JSON.stringify(raw));
  return { dir, imagesDir, outputDir, statePath, pipelinePath, config: parseConfig(raw, dir), configFile };
}

/** Insert (or re-image: INSERT OR REPLACE, as the pipeline does) an images row. */
export function addImageRow(env: Env, imagePath: string): number {
  const db = new Database(env.pipelinePath);
  try {
    const info = db
      .prepare("INSERT OR REPLACE INTO images (path, ms_path, created_at, type) VALUES (?, ?, ?, '5min')")
      .run(imagePath, `${imagePath}.ms`, Date.now() / 1000);
    return Number(info.lastInsertRowid);
  } finally {
    db.close();
  }
}

/** A test's env and in-process daemon, stopped and removed after each test of the calling file. */
export function daemonPerTest(): { env?: Env; daemon?: RunningDaemon } {
  const t: { env?: Env; daemon?: RunningDaemon } = {};
  afterEach(async () => {
    await t.daemon?.stop('test over');
    t.daemon = undefined;
    if (t.env) removeTmpDir(t.env.dir);
    t.env = undefined;
  });
  return t;
}

export function startInProcess(env: Env, config: Config = env.config): Promise<RunningDaemon> {
  return startDaemon({ name: 'thumbnail-worker', run, config, log: silentLogger(), port: 0 });
}

/**
 * One discovery pass outside the daemon (q512, no settle wait): the thumbnail rows and their jobs exist
 * before the daemon starts. `then` runs on the still-open state Db (e.g. to claim the job as another worker).
 */
export function discoverOnce(env: Env): void;
export function discoverOnce<T>(env: Env, then: (state: Db) => T): T;
export function discoverOnce<T>(env: Env, then?: (state: Db) => T): T | undefined {
  const state = openDb({ name: 'state', path: env.statePath });
  const pipeline = openDb({ name: 'pipeline', path: env.pipelinePath, readonly: true });
  try {
    new Discovery({
      state,
      pipeline,
      clock: systemClock,
      metrics: thumbnailMetrics(new Registry()),
      variants: ['q512'],
      looks: presetLooks(env.config.thumbnailWorker),
      includeGlobs: ['*-image.fits'],
      settleMs: 0,
      maxAttempts: 4,
      renderTimeoutMs: 60_000,
    }).tick();
    return then?.(state);
  } finally {
    state.close();
    pipeline.close();
  }
}

export function query<T>(env: Env, sql: string, ...params: unknown[]): T[] {
  const db = new Database(env.statePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export interface ThumbLite {
  id: number;
  fits_path: string;
  variant: string;
  status: string;
  attempts: number;
  job_id: number | null;
  png_path: string | null;
  error_code: string | null;
  error_message: string | null;
  src_fingerprint: string | null;
  vmin: number | null;
  qa_grade: string | null;
}

export function thumbs(env: Env): ThumbLite[] {
  return query<ThumbLite>(env, 'SELECT * FROM thumbnails ORDER BY id');
}

export function rowFor(env: Env, fitsPath: string): ThumbLite | undefined {
  return thumbs(env).find((t) => t.fits_path === fitsPath);
}

export function pngFiles(env: Env): string[] {
  if (!fs.existsSync(env.outputDir)) return [];
  return fs
    .readdirSync(env.outputDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.png') || f.endsWith('.tmp'));
}

export async function metricValue(
  d: RunningDaemon,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = d.deps.registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) =>
      Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
    )
    .reduce((a, v) => a + v.value, 0);
}
