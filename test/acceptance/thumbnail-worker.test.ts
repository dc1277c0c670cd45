// Acceptance: the built daemon process renders the rows the simulator writes, serves /metrics, /healthz and
// /readyz while it works, and drains on SIGTERM with exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../lib/db/index.js';
import { insertImageRow, writeSimulatedImage } from '../../lib/sim/fits-images.js';
import { freePort } from '../helpers/net.js';
import { REPO_ROOT, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { makeEnv, query, type Env } from '../integration/thumbnails/harness.js';
import { decodePng } from '../unit/fits/helpers.js';

const MAIN = path.join(REPO_ROOT, 'dist/daemons/thumbnail-worker/main.js');

let env: Env | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  child = undefined;
  if (env) removeTmpDir(env.dir);
  env = undefined;
});

describe('thumbnail-worker daemon (built)', () => {
  it('renders simulated images from pipeline rows, north up, and drains on SIGTERM', async () => {
    const port = await freePort();
    env = await makeEnv({ port, settleS: 0.2, pollS: 0.1 });
    child = spawn(process.execPath, [MAIN, '--config', env.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', () => undefined);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, {
      what: `readyz (${stderr})`,
    });

    // The simulator's images, registered as the pipeline registers them.
    const pipeline = openDb({ name: 'pipeline', path: env.pipelinePath });
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) {
      const name = `2026-01-01T00:0${i}:00-image.fits`;
      const p = writeSimulatedImage({ dir: env.imagesDir, name, nx: 1024, ny: 1024, seed: i + 1 });
      insertImageRow(pipeline, p, { imsize: 1024 });
      paths.push(p);
    }
    insertImageRow(pipeline, writeSimulatedImage({ dir: env.imagesDir, name: 'x-psf.fits', nx: 32, ny: 32 }));
    pipeline.close();

    const rows = await waitFor(
      () => {
        const r = query<{ fits_path: string; png_path: string; width: number; qa_grade: string }>(
          env!,
          "SELECT * FROM thumbnails WHERE status = 'done'",
        );
        return r.length === 3 && r;
      },
      { what: 'three thumbnails', timeoutMs: 60_000 },
    );
    for (const r of rows) {
      expect(paths).toContain(r.fits_path);
      const png = decodePng(fs.readFileSync(r.png_path));
      expect([png.width, png.height]).toEqual([512, 512]);
      // The NaN edge outside the primary-beam circle is transparent; the centre is opaque.
      expect(png.rgba[3]).toBe(0);
      expect(png.rgba[4 * (256 * 512 + 256) + 3]).toBe(255);
      expect(r.qa_grade).toBe('excellent');
    }
    expect(query(env, 'SELECT * FROM thumbnails')).toHaveLength(3);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/contimg_thumbnails_jobs_total\{outcome="done",code=""\} 3/);
    expect(metrics).toContain('contimg_thumbnails_render_seconds_bucket');
    expect(metrics).toContain('contimg_queue_jobs');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const api = (await (await fetch(`${base}/api/thumbnails?status=done`)).json()) as { id: number }[];
    expect(api).toHaveLength(3);
    const meta = (await (await fetch(`${base}/api/thumbnails/${api[0].id}/metadata`)).json()) as {
      source: string;
      bmajDeg: number;
    };
    expect(meta.source).toBe('cache');
    expect(meta.bmajDeg).toBeGreaterThan(0);

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child!.once('exit', r));
    expect(code).toBe(0);
  }, 120_000);
});
