// The worker against real SQLite files and real FITS files (§7.8 tests 4–7, 10 and 11, daemon part).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { writeFitsImage } from '../../../lib/fits/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { decodePng } from '../../unit/fits/helpers.js';
import {
  addImageRow,
  discoverOnce,
  makeEnv,
  metricValue,
  pngFiles,
  query,
  rowFor,
  startInProcess,
  thumbs,
  type Env,
} from './harness.js';

let env: Env | undefined;
let daemon: RunningDaemon | undefined;
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = undefined;
  if (env) removeTmpDir(env.dir);
  env = undefined;
});

const sim = (e: Env, name: string, seed = 1): string =>
  writeSimulatedImage({ dir: e.imagesDir, name, nx: 96, ny: 80, seed, nSources: 5 });
const inStatus = (e: Env, p: string, status: string) => () => rowFor(e, p)?.status === status && rowFor(e, p);
const done = (e: Env, p: string) => inStatus(e, p, 'done');

describe('thumbnail worker', () => {
  it('renders images rows that match the globs, stores metadata and emits thumbnail.updated; psf is left out', async () => {
    env = await makeEnv();
    const img = sim(env, 'obs1-image.fits');
    const psf = sim(env, 'obs1-psf.fits', 2);
    const id = addImageRow(env, img);
    addImageRow(env, psf);
    daemon = await startInProcess(env);
    const row = await waitFor(done(env, img), { what: 'thumbnail done' });
    expect(rowFor(env, psf)).toBeUndefined();
    const png = decodePng(fs.readFileSync(row.png_path!));
    expect([png.width, png.height]).toEqual([96, 80]);
    expect(path.dirname(row.png_path!).startsWith(env.outputDir)).toBe(true);
    expect(row.qa_grade).not.toBeNull();
    const meta = query<{ bmaj_deg: number; freq_hz: number; mad_std: number; fingerprint: string }>(
      env,
      'SELECT * FROM fits_metadata WHERE path = ?',
      img,
    );
    expect(meta[0].freq_hz).toBe(1.4049e9);
    expect(meta[0].fingerprint).toBe(row.src_fingerprint);
    const ev = query<{ type: string; payload: string }>(
      env,
      "SELECT type, payload FROM events WHERE topic = 'thumbnails'",
    );
    expect(ev).toHaveLength(1);
    expect(JSON.parse(ev[0].payload)).toMatchObject({
      thumbnailId: row.id,
      imageId: id,
      path: img,
      variant: 'q512',
      pngPath: row.png_path,
    });
    expect(await metricValue(daemon, 'contimg_thumbnails_jobs_total', { outcome: 'done' })).toBe(1);
  });

  it('corrupt input fails for good with attempts = 1 and no PNG; the worker keeps going (test 4)', async () => {
    env = await makeEnv();
    const bad = path.join(env.imagesDir, 'bad-image.fits');
    fs.writeFileSync(bad, Buffer.alloc(5760, 0x41));
    addImageRow(env, bad);
    daemon = await startInProcess(env);
    const row = await waitFor(inStatus(env, bad, 'failed'), {
      what: 'failed row',
    });
    expect([row.error_code, row.attempts, row.png_path]).toEqual(['NOT_FITS', 1, null]);
    const good = sim(env, 'good-image.fits');
    addImageRow(env, good);
    await waitFor(done(env, good), { what: 'the next good file' });
    expect(pngFiles(env)).toHaveLength(1);
    expect(query<{ state: string }>(env, 'SELECT state FROM jobs WHERE id = ?', row.job_id)[0].state).toBe(
      'dead',
    );
  });

  it('waits for a young file to settle without counting an attempt; an old tiny file fails TOO_SMALL (test 5)', async () => {
    // The young file must still be settling when the old tiny one has failed, however loaded the machine is:
    // a settle time far above the few hundred ms the tiny file takes.
    env = await makeEnv({ settleS: 8 });
    const young = sim(env, 'young-image.fits');
    const tiny = path.join(env.imagesDir, 'tiny-image.fits');
    fs.writeFileSync(tiny, Buffer.alloc(2000, 0x20));
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(tiny, old, old);
    addImageRow(env, young);
    addImageRow(env, tiny);
    daemon = await startInProcess(env);
    const t = await waitFor(inStatus(env, tiny, 'failed'), {
      what: 'tiny failed',
    });
    expect([t.error_code, t.attempts]).toEqual(['TOO_SMALL', 1]);
    const y = rowFor(env, young)!;
    expect([y.status, y.attempts, y.job_id]).toEqual(['pending', 0, null]);
    const r = await waitFor(done(env, young), { what: 'young file after settling', timeoutMs: 40_000 });
    expect(r.attempts).toBe(1);
  });

  it('truncated data retries with growing delays, fails after maxAttempts, and renders once completed (test 6)', async () => {
    env = await makeEnv({ maxAttempts: 3, backoffBaseS: 0.3 });
    const p = path.join(env.imagesDir, 'cut-image.fits');
    const whole = path.join(env.dir, 'whole.fits');
    writeSimulatedImage({ dir: env.dir, name: 'whole.fits', nx: 128, ny: 128, seed: 3 });
    fs.writeFileSync(p, fs.readFileSync(whole).subarray(0, 40_000));
    addImageRow(env, p);
    daemon = await startInProcess(env);
    const runAts: number[] = [];
    const failedAt: number[] = [];
    await waitFor(
      () => {
        const j = query<{ run_at: number; attempts: number; state: string; updated_at: number }>(
          env!,
          "SELECT * FROM jobs WHERE queue = 'thumbnails'",
        )[0];
        if (j && j.state === 'queued' && j.attempts > runAts.length) {
          runAts.push(j.run_at);
          failedAt.push(j.updated_at);
        }
        return rowFor(env!, p)?.status === 'failed';
      },
      { what: 'failed after retries', timeoutMs: 15_000, intervalMs: 10 },
    );
    const row = rowFor(env, p)!;
    expect([row.error_code, row.attempts]).toEqual(['TRUNCATED_DATA', 3]);
    expect(runAts).toHaveLength(2);
    const delays = runAts.map((r, i) => r - failedAt[i]);
    expect(delays[1]).toBeGreaterThan(delays[0]);
    expect(pngFiles(env)).toHaveLength(0);
    fs.copyFileSync(whole, p);
    await waitFor(done(env, p), { what: 'render after completion', timeoutMs: 10_000 });
  });

  it('NaN-only is skipped (ALL_NONFINITE) without retry; a constant image renders (test 7)', async () => {
    env = await makeEnv();
    const nan = path.join(env.imagesDir, 'nan-image.fits');
    const flat = path.join(env.imagesDir, 'flat-image.fits');
    writeFitsImage({
      path: nan,
      bitpix: -32,
      axes: [32, 32, 1, 1],
      row: () => new Float32Array(32).fill(NaN),
    });
    writeFitsImage({
      path: flat,
      bitpix: -32,
      axes: [32, 32, 1, 1],
      row: () => new Float32Array(32).fill(2),
    });
    addImageRow(env, nan);
    addImageRow(env, flat);
    daemon = await startInProcess(env);
    const s = await waitFor(inStatus(env, nan, 'skipped'), {
      what: 'skipped',
    });
    expect([s.error_code, s.attempts]).toEqual(['ALL_NONFINITE', 1]);
    expect(query<{ state: string }>(env, 'SELECT state FROM jobs WHERE id = ?', s.job_id)[0].state).toBe(
      'done',
    );
    const f = await waitFor(done(env, flat), { what: 'constant rendered' });
    expect(f.vmin).toBe(2);
  });

  it('missing source retries (SOURCE_MISSING), renders when it appears, and reconcile marks a vanished one (test 10a/b)', async () => {
    env = await makeEnv({ maxAttempts: 10, backoffBaseS: 0.1, backoffMaxS: 0.3 });
    const later = path.join(env.imagesDir, 'later-image.fits');
    addImageRow(env, later);
    daemon = await startInProcess(env);
    await waitFor(() => rowFor(env!, later)?.error_code === 'SOURCE_MISSING', {
      what: 'SOURCE_MISSING recorded',
    });
    expect(rowFor(env, later)!.status).toBe('pending');
    const tmp = sim(env, 'staging.fits');
    fs.renameSync(tmp, later);
    const row = await waitFor(done(env, later), { what: 'rendered once present', timeoutMs: 10_000 });
    fs.rmSync(later);
    await waitFor(
      () => rowFor(env!, later)?.error_code === 'SOURCE_MISSING' && rowFor(env!, later)?.status === 'failed',
      { what: 'marked missing' },
    );
    expect(fs.existsSync(row.png_path!)).toBe(true);
  });

  it('a second pass reads nothing; a changed source re-renders and the old PNG is deleted (test 11)', async () => {
    env = await makeEnv();
    const p = sim(env, 'stale-image.fits');
    addImageRow(env, p);
    daemon = await startInProcess(env);
    const first = await waitFor(done(env, p), { what: 'first render' });
    const read1 = await metricValue(daemon, 'contimg_thumbnails_bytes_read_total');
    expect(read1).toBeGreaterThan(0);
    const passes = await metricValue(daemon, 'contimg_thumbnails_reconcile_passes_total');
    await waitFor(
      async () =>
        (await metricValue(daemon!, 'contimg_thumbnails_reconcile_passes_total', { found: 'unchanged' })) >=
        passes + 3,
      {
        what: 'three more reconcile passes',
      },
    );
    expect(await metricValue(daemon, 'contimg_thumbnails_bytes_read_total')).toBe(read1);
    const replacement = writeSimulatedImage({
      dir: env.dir,
      name: 'replacement.fits',
      nx: 120,
      ny: 64,
      seed: 9,
    });
    fs.renameSync(replacement, p);
    const second = await waitFor(
      () => {
        const r = rowFor(env!, p);
        return r?.status === 'done' && r.png_path !== first.png_path && r;
      },
      { what: 're-render' },
    );
    expect(fs.existsSync(first.png_path!)).toBe(false);
    expect(decodePng(fs.readFileSync(second.png_path!)).width).toBe(120);
    expect(pngFiles(env)).toHaveLength(1);
  });

  it('a source replaced after the job was made is SOURCE_CHANGED: requeued, no attempt, rendered anew (test 10d)', async () => {
    env = await makeEnv();
    const p = sim(env, 'swap-image.fits');
    addImageRow(env, p);
    discoverOnce(env);
    const before = rowFor(env, p)!.src_fingerprint;
    fs.renameSync(writeSimulatedImage({ dir: env.dir, name: 'swap.fits', nx: 50, ny: 40, seed: 5 }), p);
    daemon = await startInProcess(env);
    const r = await waitFor(done(env, p), { what: 'render of the replacement' });
    expect(r.src_fingerprint).not.toBe(before);
    expect(r.attempts).toBe(1);
    expect(
      await metricValue(daemon, 'contimg_thumbnails_jobs_total', {
        outcome: 'superseded',
        code: 'SOURCE_CHANGED',
      }),
    ).toBe(1);
    expect(decodePng(fs.readFileSync(r.png_path!)).width).toBe(50);
    expect(pngFiles(env)).toHaveLength(1);
  });

  it('the watched directory hints a re-render of a changed file at once; unknown files are ignored', async () => {
    env = await makeEnv({ reconcileS: 3600 });
    const envNow = env;
    const p = sim(envNow, 'watched-image.fits');
    addImageRow(envNow, p);
    const cfg = {
      ...envNow.config,
      thumbnailWorker: { ...envNow.config.thumbnailWorker, watchDir: envNow.imagesDir },
    };
    daemon = await startInProcess(envNow, cfg);
    const first = await waitFor(done(envNow, p), { what: 'first render' });
    sim(envNow, 'stranger-image.fits', 4);
    fs.renameSync(writeSimulatedImage({ dir: envNow.dir, name: 'w2.fits', nx: 70, ny: 70, seed: 8 }), p);
    const again = await waitFor(
      () => {
        const r = rowFor(envNow, p);
        return r?.status === 'done' && r.png_path !== first.png_path && r;
      },
      { what: 're-render from the watch hint (reconcile is an hour away)' },
    );
    expect(decodePng(fs.readFileSync(again.png_path!)).width).toBe(70);
    expect(thumbs(envNow)).toHaveLength(1);
  });

  it('takes over an expired lease (test 11)', async () => {
    env = await makeEnv({ settleS: 0 });
    const p = sim(env, 'lease-image.fits');
    addImageRow(env, p);
    // A worker that claimed the job and died: the discovery makes the job, a foreign owner claims it briefly.
    const { SqliteQueueStore } = await import('../../../lib/queue/index.js');
    const [claimed] = discoverOnce(env, (state) =>
      new SqliteQueueStore(state).claim({
        queue: 'thumbnails',
        owner: 'dead-worker',
        leaseMs: 400,
      }),
    );
    expect(claimed).toBeDefined();
    daemon = await startInProcess(env);
    await waitFor(done(env, p), { what: 'render after the lease expired' });
    expect(thumbs(env)).toHaveLength(1);
  });
  it('a worker that died on the last attempt leaves no row running for ever: it fails WORKER_LOST', async () => {
    env = await makeEnv({ settleS: 0 });
    const p = sim(env, 'lost-image.fits');
    addImageRow(env, p);
    const { SqliteQueueStore } = await import('../../../lib/queue/index.js');
    discoverOnce(env, (state) => {
      const [job] = new SqliteQueueStore(state).claim({
        queue: 'thumbnails',
        owner: 'dead-worker',
        leaseMs: 300,
      });
      // As the dead worker's handler left it: the row running, the job on its last attempt.
      state.write((c) => {
        c.prepare("UPDATE thumbnails SET status = 'running' WHERE job_id = ?").run(job.id);
        c.prepare('UPDATE jobs SET max_attempts = attempts WHERE id = ?').run(job.id);
      });
    });
    daemon = await startInProcess(env);
    await waitFor(inStatus(env, p, 'failed'), { what: 'row failed' });
    expect(rowFor(env, p)?.error_code).toBe('WORKER_LOST');
    expect(query<{ state: string }>(env, 'SELECT state FROM jobs')).toEqual([{ state: 'dead' }]);
  });
});
