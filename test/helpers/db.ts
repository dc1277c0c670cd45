// Databases for tests: both sets migrated to head. The migrations run once per test process into a template
// folder; each call copies the template files, which costs a file copy instead of a migration run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateUp } from '../../lib/migrations/index.js';

let template: Promise<{ state: string; pipeline: string }> | null = null;

async function buildTemplate(): Promise<{ state: string; pipeline: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-dbtemplate-'));
  const state = path.join(dir, 'state.sqlite3');
  const pipeline = path.join(dir, 'pipeline.sqlite3');
  await migrateUp({ path: state, set: 'state', backup: false });
  await migrateUp({ path: pipeline, set: 'pipeline', backup: false });
  // migrateUp closes its connection, which checkpoints and removes the WAL: the main files are complete.
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return { state, pipeline };
}

/** Fresh state and pipeline databases in dir (state.sqlite3, pipeline.sqlite3), migrated to head. */
export async function freshDatabases(dir: string): Promise<{ statePath: string; pipelinePath: string }> {
  template ??= buildTemplate();
  const t = await template;
  fs.mkdirSync(dir, { recursive: true });
  const statePath = path.join(dir, 'state.sqlite3');
  const pipelinePath = path.join(dir, 'pipeline.sqlite3');
  fs.copyFileSync(t.state, statePath);
  fs.copyFileSync(t.pipeline, pipelinePath);
  return { statePath, pipelinePath };
}
