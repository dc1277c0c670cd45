// Chaos for the built thumbnail worker: SIGKILL at chosen and random moments (at start-up, mid-render, with
// a temp PNG on disk, right after a commit, at a random delay) while images keep arriving. Afterwards every
// image has exactly one thumbnail (one done row, one PNG), nothing stays running, and every PNG at a final
// path passes a full PNG check. The counts are printed for the record.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../lib/db/index.js';
import { insertImageRow, writeSimulatedImage } from '../../lib/sim/fits-images.js';
import { checkPng } from '../helpers/png-check.js';
import { mulberry32 } from '../helpers/random.js';
import { REPO_ROOT, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { makeEnv, query, type Env } from '../integration/thumbnails/harness.js';

const MAIN = path.join(REPO_ROOT, 'dist/daemons/thumbnail-worker/main.js');
const KILLS = 20;
const MOMENTS = ['start-up', 'mid-render', 'temp-file', 'after-commit', 'random'] as const;
type Moment = (typeof MOMENTS)[number];

let env: Env | undefined;
let child: ChildProcess | undefined;
afterAll(async () => {
  await killChild('SIGKILL');
  if (env) removeTmpDir(env.dir);
});

async function killChild(sig: NodeJS.Signals): Promise<number | null> {
  const c = child;
  child = undefined;
  if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  c.kill(sig);
  return exited;
}

function start(e: Env): ChildProcess {
  const c = spawn(process.execPath, [MAIN, '--config', e.configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  c.stderr?.on('data', () => undefined);
  child = c;
  return c;
}

function files(dir: string, suffix: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(suffix))
    .map((f) => path.join(dir, f));
}

const count = (e: Env, sql: string): number => query<{ n: number }>(e, sql)[0].n;

/** The pipeline's side: an image written under a temp name, renamed into place, then registered. */
function produce(e: Env, pipeline: Db, i: number, big: boolean): string {
  const name = `2026-03-01T00:${String(i).padStart(3, '0')}-image.fits`;
  const tmp = writeSimulatedImage({
    dir: e.dir,
    name: `staging-${i}.fits`,
    nx: big ? 768 : 96,
    ny: big ? 768 : 96,
    seed: i + 1,
    nSources: 10,
  });
  const final = path.join(e.imagesDir, name);
  fs.renameSync(tmp, final);
  insertImageRow(pipeline, final);
  return final;
}

/** Wait for the moment to kill at; false when it did not come within the deadline (killed anyway). */
async function moment(e: Env, m: Moment, rand: () => number): Promise<boolean> {
  const within = (probe: () => boolean, ms: number) =>
    waitFor(probe, { timeoutMs: ms, intervalMs: 2, what: m }).then(
      () => true,
      () => false,
    );
  switch (m) {
    case 'start-up':
      await new Promise((r) => setTimeout(r, 30 + rand() * 200));
      return true;
    case 'mid-render':
      return within(
        () => count(e, "SELECT count(*) AS n FROM thumbnails WHERE status = 'running'") > 0,
        4000,
      );
    case 'temp-file':
      return within(() => files(e.outputDir, '.tmp').length > 0, 4000);
    case 'after-commit': {
      const done = count(e, "SELECT count(*) AS n FROM thumbnails WHERE status = 'done'");
      return within(
        () => count(e, "SELECT count(*) AS n FROM thumbnails WHERE status = 'done'") > done,
        4000,
      );
    }
    case 'random':
      await new Promise((r) => setTimeout(r, 100 + rand() * 900));
      return true;
  }
}

describe('thumbnail worker under SIGKILL (chaos)', () => {
  it('ends with exactly one sound thumbnail per image and nothing running', async () => {
    const t0 = Date.now();
    env = await makeEnv({
      port: 0,
      settleS: 0.1,
      pollS: 0.05,
      reconcileS: 1,
      leaseS: 1,
      maxAttempts: 50,
      backoffBaseS: 0.1,
      backoffMaxS: 0.5,
      minFreeMb: 0,
      // Temp PNGs of killed writes older than 2 × renderTimeoutS are swept by the reconcile pass.
      renderTimeoutS: 2,
    });
    const e = env;
    const seed = 20260301;
    const rand = mulberry32(seed);
    const pipeline = openDb({ name: 'pipeline', path: e.pipelinePath });
    const images: string[] = [];
    const perMoment: Record<string, { kills: number; hit: number }> = {};
    const tempsLeftByKills = new Set<string>();
    try {
      for (let k = 0; k < KILLS; k++) {
        // Images keep arriving: one or two per cycle, every third one big enough to be caught mid-render.
        for (let j = 0; j < 1 + Math.floor(rand() * 2); j++)
          images.push(produce(e, pipeline, images.length, images.length % 3 === 0));
        start(e);
        const m = MOMENTS[k % MOMENTS.length];
        const hit = await moment(e, m, rand);
        await killChild('SIGKILL');
        for (const t of files(e.outputDir, '.tmp')) tempsLeftByKills.add(t);
        perMoment[m] = {
          kills: (perMoment[m]?.kills ?? 0) + 1,
          hit: (perMoment[m]?.hit ?? 0) + (hit ? 1 : 0),
        };
      }
    } finally {
      pipeline.close();
    }

    // One last run, left alone, finishes everything (and sweeps the killed writes' temp files); SIGTERM drains it.
    start(e);
    await waitFor(
      () => count(e, "SELECT count(*) AS n FROM thumbnails WHERE status = 'done'") === images.length,
      { what: 'every image thumbnailed after the kills', timeoutMs: 40_000, intervalMs: 50 },
    );
    await waitFor(() => files(e.outputDir, '.tmp').length === 0, {
      what: 'stale temp PNGs swept',
      timeoutMs: 15_000,
    });
    expect(await killChild('SIGTERM')).toBe(0);

    const rows = query<{ fits_path: string; status: string; png_path: string }>(
      e,
      'SELECT fits_path, status, png_path FROM thumbnails ORDER BY id',
    );
    expect(rows.map((r) => r.fits_path).sort()).toEqual([...images].sort());
    expect(rows.every((r) => r.status === 'done')).toBe(true);
    expect(
      query(
        e,
        "SELECT id, state, attempts, run_at, lease_owner, lease_expires_at, updated_at, last_error, payload FROM jobs WHERE state IN ('running', 'queued')",
      ),
    ).toEqual([]);
    const pngs = files(e.outputDir, '.png');
    expect(pngs.sort()).toEqual(rows.map((r) => r.png_path).sort());
    for (const p of pngs) checkPng(fs.readFileSync(p));

    const renders = count(e, "SELECT count(*) AS n FROM events WHERE type = 'thumbnail.updated'");
    const attempts = count(e, "SELECT coalesce(sum(attempts), 0) AS n FROM jobs WHERE queue = 'thumbnails'");
    const report = {
      seed,
      kills: KILLS,
      perMoment,
      images: images.length,
      rendersStarted: attempts,
      rendersCommitted: renders,
      pngsChecked: pngs.length,
      tempFilesLeftByKills: tempsLeftByKills.size,
      tempFilesLeftAtEnd: 0,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
    console.log(`thumbnail-worker chaos: ${JSON.stringify(report)}`);
    expect(renders).toBeGreaterThanOrEqual(images.length);
  }, 120_000);
});
