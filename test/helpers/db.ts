// Databases for tests: both sets migrated to head. The migrations run once per test process into a template
// folder; each call copies the template files, which costs a file copy instead of a migration run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateUp } from '../../lib/migrations/index.js';
import { REPO_ROOT } from './tmp.js';

let template: Promise<{ state: string; pipeline: string }> | null = null;

/** A digest of every migration file: the template folder is shared by all test processes of one version. */
function migrationsDigest(): string {
  const hash = crypto.createHash('sha256');
  for (const set of ['state', 'pipeline']) {
    const dir = path.join(REPO_ROOT, 'migrations', set);
    for (const f of fs.readdirSync(dir).sort())
      hash.update(`${set}/${f}\0`).update(fs.readFileSync(path.join(dir, f)));
  }
  return hash.digest('hex').slice(0, 16);
}

async function buildTemplate(): Promise<{ state: string; pipeline: string }> {
  const final = path.join(os.tmpdir(), `contimg-dbtemplate-${migrationsDigest()}`);
  const files = { state: path.join(final, 'state.sqlite3'), pipeline: path.join(final, 'pipeline.sqlite3') };
  if (fs.existsSync(files.state) && fs.existsSync(files.pipeline)) return files;
  // Build in a private folder, then rename into place: concurrent test processes never see half a template.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'contimg-dbtemplate-build-'));
  try {
    await migrateUp({ path: path.join(work, 'state.sqlite3'), set: 'state', backup: false });
    await migrateUp({ path: path.join(work, 'pipeline.sqlite3'), set: 'pipeline', backup: false });
    // migrateUp closes its connection, which checkpoints and removes the WAL: the main files are complete.
    fs.renameSync(work, final);
  } catch (e) {
    fs.rmSync(work, { recursive: true, force: true });
    // Another process renamed its template into place first: use that one.
    if (!fs.existsSync(files.state)) throw e;
  }
  return files;
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

/** Fresh databases plus the minimal config file naming them (dir/contimg.yaml), for CLI tests. */
export async function configuredDatabases(
  dir: string,
): Promise<{ config: string; statePath: string; pipelinePath: string }> {
  const { statePath, pipelinePath } = await freshDatabases(dir);
  const config = path.join(dir, 'contimg.yaml');
  fs.writeFileSync(
    config,
    `dataDir: ${dir}\ndatabases: { state: ${statePath}, pipeline: ${pipelinePath} }\n`,
  );
  return { config, statePath, pipelinePath };
}
