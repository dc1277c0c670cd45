// Real processes on the built code (npm test builds first): two workers on one database never render the
// same row, and an 8192² render stays within 160 MB peak RSS in its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFitsImage } from '../../../lib/fits/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { makeEnv, query, type Env } from './harness.js';

const MAIN = path.join(REPO_ROOT, 'dist/daemons/thumbnail-worker/main.js');

let env: Env | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
  }
  if (env) removeTmpDir(env.dir);
  env = undefined;
});

describe('thumbnail worker processes', () => {
  it('two worker processes on one database render each of 200 rows exactly once', async () => {
    env = await makeEnv({ port: 0, concurrency: 1, pollS: 0.05 });
    const pipeline = new Database(env.pipelinePath);
    const insert = pipeline.prepare(
      "INSERT INTO images (path, ms_path, created_at, type) VALUES (?, ?, ?, '5min')",
    );
    for (let i = 0; i < 200; i++) {
      const p = writeSimulatedImage({
        dir: env.imagesDir,
        name: `obs${i}-image.fits`,
        nx: 24,
        ny: 24,
        seed: i + 1,
        nSources: 1,
      });
      insert.run(p, `obs${i}.ms`, Date.now() / 1000);
    }
    pipeline.close();
    for (let k = 0; k < 2; k++) {
      const c = spawn(process.execPath, [MAIN, '--config', env.configFile], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      c.stderr?.on('data', () => undefined);
      children.push(c);
    }
    await waitFor(
      () =>
        query<{ n: number }>(env!, "SELECT count(*) AS n FROM thumbnails WHERE status = 'done'")[0]?.n ===
        200,
      {
        what: '200 thumbnails',
        timeoutMs: 120_000,
        intervalMs: 200,
      },
    );
    const perPath = query<{ n: number }>(
      env,
      "SELECT count(*) AS n FROM events WHERE topic = 'thumbnails' AND type = 'thumbnail.updated' GROUP BY json_extract(payload, '$.path')",
    );
    expect(perPath).toHaveLength(200);
    expect(perPath.every((r) => r.n === 1)).toBe(true);
    const jobs = query<{ n: number }>(
      env,
      "SELECT count(*) AS n FROM jobs WHERE queue = 'thumbnails' AND state = 'done'",
    );
    expect(jobs[0].n).toBe(200);
  }, 180_000);

  it('renders an 8192² −32 4-D image within 160 MB peak RSS, measured in a fresh process', async () => {
    env = await makeEnv();
    const big = path.join(env.dir, 'big.fits');
    const row = new Float32Array(8192);
    writeFitsImage({
      path: big,
      bitpix: -32,
      axes: [8192, 8192, 1, 1],
      row: (y) => {
        for (let x = 0; x < 8192; x++) row[x] = ((x * 31 + y * 17) % 1000) * 1e-6;
        return row;
      },
    });
    const out = path.join(env.dir, 'big.png');
    const run = await runCli(['thumbnail', big, '--out', out, '--json'], { built: true, timeoutMs: 180_000 });
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as { width: number; height: number; peakRssBytes: number };
    expect([r.width, r.height]).toEqual([512, 512]);
    expect(r.peakRssBytes).toBeLessThanOrEqual(160 * 1024 * 1024);
    expect(fs.statSync(out).size).toBeGreaterThan(0);
  }, 180_000);
});
