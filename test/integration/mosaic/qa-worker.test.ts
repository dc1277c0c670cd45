// mosaic acceptance 12: the thumbnail worker on a built mosaic (real SQLite files, FITS written with lib/fits, the
// daemon in-process with its render threads). The planner and dispatcher write mosaic_plans and mosaics in
// production; here the test inserts them, as the builder's dispatch would after a build.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { writeMosaicPair, type MosaicFixture } from '../../helpers/mosaic-fits.js';
import { decodePng, pixel } from '../../unit/fits/helpers.js';
import { makeEnv, metricValue, query, startInProcess, type Env } from '../thumbnails/harness.js';
import { systemClock } from '../../../lib/clock.js';
import { openDb } from '../../../lib/db/index.js';
import { discoverMosaics } from '../../../daemons/thumbnail-worker/mosaic-job.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../../helpers/tmpfs.js';
import { makeTmpDir } from '../../helpers/tmp.js';

let env: Env | undefined;
let daemon: RunningDaemon | undefined;
let disk: string | undefined;
let diskDir: string | undefined;
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = undefined;
  if (env) removeTmpDir(env.dir);
  env = undefined;
  if (disk) unmountTmpfs(disk);
  if (diskDir) removeTmpDir(diskDir);
  disk = diskDir = undefined;
});

const RA = 150;
const DEC = 55.57;

interface Built {
  planId: number;
  mosaicId: number;
  files: ReturnType<typeof writeMosaicPair>;
}

/** Write the mosaic pair and insert its plan (with planned inputs) and its `built` mosaics row. */
function builtMosaic(
  e: Env,
  name: string,
  tier: 'quicklook' | 'science',
  fixture: Omit<MosaicFixture, 'dir' | 'name'>,
  opts: { windowStart?: number } = {},
): Built {
  const files = writeMosaicPair({ dir: e.dir, name, raDeg: RA, decDeg: DEC, ...fixture });
  const db = new Database(e.statePath);
  try {
    const now = Date.now();
    const ws = opts.windowStart ?? now - 3_600_000;
    const plan = db
      .prepare(
        `INSERT INTO mosaic_plans (name, base_name, tier, trigger, strip_dec_deg, frame, window_start, window_end,
           n_candidates, n_selected, inputs_hash, state, created_at, updated_at)
         VALUES (?, ?, ?, 'cron', ?, 'ICRS', ?, ?, 2, 2, ?, 'built', ?, ?)`,
      )
      .run(name, name, tier, DEC, ws, ws + 600_000, 'a'.repeat(64), now, now);
    const planId = Number(plan.lastInsertRowid);
    // Two planned pointings on the strip, 0.4° apart in RA: the footprint is their half-power discs.
    [RA - 0.2, RA + 0.2].forEach((ra, ord) =>
      db
        .prepare(
          `INSERT INTO mosaic_plan_inputs (plan_id, ord, path, size, mtime_ns, ino, obs_mid, ra_deg, dec_deg, noise_jy)
           VALUES (?, ?, ?, 1, '1', 1, ?, ?, ?, 0.001)`,
        )
        .run(planId, ord, `/images/${name}-${ord}.image.fits`, ws, ra, DEC),
    );
    const m = db
      .prepare(
        `INSERT INTO mosaics (plan_id, path, weights_path, tier, nx, ny, pixel_arcsec, center_ra_deg, center_dec_deg,
           frame, n_inputs, n_used, effective_noise_jy, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 10, ?, ?, 'ICRS', 2, 2, ?, 'built', ?, ?)`,
      )
      .run(
        planId,
        files.fits,
        files.weights,
        tier,
        fixture.nx,
        fixture.ny,
        RA,
        DEC,
        fixture.noiseJy,
        now,
        now,
      );
    return { planId, mosaicId: Number(m.lastInsertRowid), files };
  } finally {
    db.close();
  }
}

interface Snapshot {
  state: string;
  qa_status: string | null;
  qa_grade: string | null;
  thumbnail_path: string | null;
  updated_at: number;
  plan_state: string;
  qa_rows: number;
  qa_created: number | null;
  events: number;
  thumbs: number;
}

/** One statement, so one snapshot: the mosaic, its plan, its QA rows, its event and its thumbnail row. */
function snapshot(e: Env, b: Built): Snapshot {
  const db = new Database(e.statePath, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT m.state, m.qa_status, m.qa_grade, m.thumbnail_path, m.updated_at,
           (SELECT state FROM mosaic_plans WHERE id = m.plan_id) AS plan_state,
           (SELECT count(*) FROM mosaic_qa WHERE mosaic_id = m.id) AS qa_rows,
           (SELECT max(created_at) FROM mosaic_qa WHERE mosaic_id = m.id) AS qa_created,
           (SELECT count(*) FROM events WHERE type = 'mosaic.graded'
              AND json_extract(payload, '$.mosaicId') = m.id) AS events,
           (SELECT count(*) FROM thumbnails WHERE source_kind = 'mosaic' AND source_id = m.id
              AND status = 'done') AS thumbs
         FROM mosaics m WHERE m.id = ?`,
      )
      .get(b.mosaicId) as Snapshot;
  } finally {
    db.close();
  }
}

/** Poll snapshots until graded; every one must be all-or-nothing (never half a grade). */
async function gradedAtomically(e: Env, b: Built): Promise<Snapshot> {
  const seen: Snapshot[] = [];
  const s = await waitFor(
    () => {
      const x = snapshot(e, b);
      seen.push(x);
      return x.state === 'graded' && x;
    },
    { what: `mosaic ${b.mosaicId} graded`, timeoutMs: 60_000, intervalMs: 5 },
  );
  for (const x of seen) {
    const parts = [x.qa_rows, x.events, x.plan_state === 'graded' ? 1 : 0, x.qa_status ? 1 : 0];
    expect(
      parts.every((p) => p === parts[0]),
      JSON.stringify(x),
    ).toBe(true);
    expect(x.thumbs, JSON.stringify(x)).toBe(x.thumbnail_path ? 1 : 0);
  }
  return s;
}

describe('mosaic acceptance 12: the thumbnail worker on a built mosaic', () => {
  it('renders the mosaic north up with its aspect ratio and transparent NaN, grades it and commits it all in one transaction', async () => {
    env = await makeEnv();
    const nx = 3000;
    const ny = 900;
    // A bright source in the north (near the top row), NaN in the south-west corner (outside the coverage).
    const north = { x: 1500, y: 820, fluxJy: 1 };
    const b = builtMosaic(env, 'quicklook_d+55.6_test', 'quicklook', {
      nx,
      ny,
      noiseJy: 0.001,
      sources: [north, { x: 900, y: 450, fluxJy: 0.4 }],
      covered: (x, y) => !(x < 300 && y < 200),
    });
    // The calibrator table (the pointing monitor's) holds a reference source at the northern source.
    const sky = b.files.skyOf(north.x, north.y);
    const db = new Database(env.statePath);
    db.prepare(
      `INSERT INTO calibrators (name, ra_deg, dec_deg, flux_jy_20cm, catalog, updated_unix) VALUES ('REF', ?, ?, 1, 'manual', 0)`,
    ).run(sky.raDeg, sky.decDeg);
    db.close();
    daemon = await startInProcess(env);
    const s = await gradedAtomically(env, b);
    expect(s).toMatchObject({ plan_state: 'graded', qa_rows: 1, events: 1, thumbs: 1 });
    expect(s.qa_created).toBe(s.updated_at);

    // The PNG: long side ≤ 2048, the aspect ratio kept, NaN transparent, north up.
    const png = decodePng(fs.readFileSync(s.thumbnail_path!));
    expect(png.width).toBe(2048);
    expect(Math.abs(png.width / png.height - nx / ny)).toBeLessThan(0.01);
    // South-west corner (bottom-left of the PNG) is transparent; the middle is opaque.
    expect(pixel(png, 5, png.height - 5)[3]).toBe(0);
    expect(pixel(png, png.width >> 1, png.height >> 1)[3]).toBe(255);
    // North up: the northern source is drawn in the top colour near the top of the PNG, and nothing as
    // bright sits where an upside-down image would put it.
    const lum = (x: number, y: number): number => {
      let m = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const [r, g, bl] = pixel(png, x + dx, y + dy);
          m = Math.max(m, r + g + bl);
        }
      return m;
    };
    let top = 0; // the brightest colour drawn (inferno's top entry: the sources saturate it)
    for (let i = 0; i < png.rgba.length; i += 4)
      top = Math.max(top, png.rgba[i] + png.rgba[i + 1] + png.rgba[i + 2]);
    const scale = png.width / nx;
    const px = Math.round(north.x * scale);
    expect(lum(px, Math.round((ny - 1 - north.y) * scale))).toBe(top);
    expect(lum(px, Math.round(north.y * scale))).toBeLessThan(top);

    // mosaic_qa: the measured numbers and the reference source from the calibrators table.
    const [qa] = query<Record<string, number | string>>(
      env,
      'SELECT * FROM mosaic_qa WHERE mosaic_id = ?',
      b.mosaicId,
    );
    expect(qa.status).toBe(s.qa_status);
    expect(qa.grade).toBe(s.qa_grade);
    expect(qa.noise_jy as number).toBeGreaterThan(0.00095);
    expect(qa.noise_jy as number).toBeLessThan(0.00106);
    expect(qa.dynamic_range as number).toBeGreaterThan(800);
    expect(qa.n_ref).toBe(1);
    expect(qa.flux_ratio_median as number).toBeGreaterThan(0.95);
    expect(qa.flux_ratio_median as number).toBeLessThan(1.05);
    expect(qa.coverage_fraction).toBe(1);
    expect(s.qa_status).toBe('pass');

    // The thumbnails row and the event describe the same PNG.
    const [t] = query<{ png_path: string; variant: string; width: number; height: number; qa_grade: string }>(
      env,
      "SELECT * FROM thumbnails WHERE source_kind = 'mosaic'",
    );
    expect(t).toMatchObject({
      png_path: s.thumbnail_path,
      variant: 'mosaic',
      width: png.width,
      height: png.height,
    });
    const [ev] = query<{ topic: string; payload: string }>(
      env,
      "SELECT * FROM events WHERE type = 'mosaic.graded'",
    );
    expect(ev.topic).toBe('mosaics');
    expect(JSON.parse(ev.payload)).toMatchObject({
      mosaicId: b.mosaicId,
      planId: b.planId,
      tier: 'quicklook',
      strip: '+55.6',
      status: 'pass',
      thumbnailPath: s.thumbnail_path,
    });
    expect(await metricValue(daemon, 'contimg_mosaic_qa_total', { tier: 'quicklook', status: 'pass' })).toBe(
      1,
    );
    expect(await metricValue(daemon, 'contimg_mosaic_qa_dynamic_range', { tier: 'quicklook' })).toBe(
      qa.dynamic_range,
    );

    // The image reconcile pass leaves the mosaic's thumbnail alone (it belongs to the grade), even when the
    // mosaic file's fingerprint moves.
    fs.utimesSync(b.files.fits, new Date(), new Date(Date.now() + 5000));
    const passes = await metricValue(daemon, 'contimg_thumbnails_reconcile_passes_total');
    await waitFor(
      async () => (await metricValue(daemon!, 'contimg_thumbnails_reconcile_passes_total')) >= passes + 2,
      {
        what: 'two reconcile passes',
      },
    );
    expect(
      query<{ status: string }>(env, "SELECT status FROM thumbnails WHERE source_kind = 'mosaic'"),
    ).toEqual([{ status: 'done' }]);
  });

  it('a science mosaic that grades FAIL raises MosaicQAFailed; the next PASS of the strip resolves it', async () => {
    env = await makeEnv();
    const alerts = () =>
      query<{ status: string; labels: string; annotations: string }>(
        env!,
        "SELECT status, labels, annotations FROM alerts WHERE alertname = 'MosaicQAFailed'",
      );
    daemon = await startInProcess(env);
    const bad = builtMosaic(env, 'science_bad', 'science', {
      nx: 300,
      ny: 200,
      noiseJy: 0.001,
      claimedNoiseJy: 0.0004,
      effNoiseJy: 0.0004,
      sources: [{ x: 150, y: 100, fluxJy: 1 }],
    });
    const s1 = await gradedAtomically(env, bad);
    expect(s1.qa_status).toBe('fail');
    const [a] = await waitFor(() => alerts().length === 1 && alerts(), { what: 'alert row' });
    expect(a.status).toBe('firing');
    expect(JSON.parse(a.labels)).toEqual({ alertname: 'MosaicQAFailed', tier: 'science', strip: '+55.6' });
    expect(JSON.parse(a.annotations).summary).toMatch(/noise_ratio/);

    const good = builtMosaic(env, 'science_good', 'science', {
      nx: 300,
      ny: 200,
      noiseJy: 0.001,
      sources: [{ x: 150, y: 100, fluxJy: 1 }],
    });
    const s2 = await gradedAtomically(env, good);
    expect(s2.qa_status).toBe('pass');
    expect(alerts()[0].status).toBe('resolved');
  });

  it('a mosaic that cannot be read is graded fail with the reason, not left built', async () => {
    env = await makeEnv({ maxAttempts: 1 });
    daemon = await startInProcess(env);
    const b = builtMosaic(env, 'deep_corrupt', 'science', { nx: 64, ny: 64, noiseJy: 0.001 });
    fs.writeFileSync(b.files.fits, Buffer.alloc(5760, 0x41));
    const s = await gradedAtomically(env, { ...b });
    expect(s).toMatchObject({ qa_status: 'fail', qa_grade: 'unknown', thumbs: 0, events: 1 });
    const [qa] = query<{ reasons_json: string }>(env, 'SELECT reasons_json FROM mosaic_qa');
    expect(JSON.parse(qa.reasons_json)[0]).toMatchObject({ rule: 'readable', level: 'fail' });
    expect(JSON.parse(qa.reasons_json)[0].detail).toMatch(/NOT_FITS/);
  });

  it('discovery enqueues one grading job per built mosaic, once, and none for graded or deleted ones', async () => {
    env = await makeEnv();
    const a = builtMosaic(env, 'quicklook_a', 'quicklook', { nx: 32, ny: 32, noiseJy: 0.001 });
    const b = builtMosaic(env, 'quicklook_b', 'quicklook', { nx: 32, ny: 32, noiseJy: 0.001 });
    builtMosaic(env, 'quicklook_c', 'quicklook', { nx: 32, ny: 32, noiseJy: 0.001 });
    const rw = new Database(env.statePath);
    rw.prepare("UPDATE mosaics SET state = 'graded' WHERE id = ?").run(b.mosaicId);
    rw.prepare("UPDATE mosaics SET state = 'deleted' WHERE path LIKE '%quicklook_c%'").run();
    rw.close();
    const state = openDb({ name: 'state', path: env.statePath });
    try {
      const o = { maxAttempts: 2, timeoutMs: 60_000 };
      expect(discoverMosaics(state, systemClock, o)).toBe(1);
      expect(discoverMosaics(state, systemClock, o)).toBe(0);
    } finally {
      state.close();
    }
    const jobs = query<{ queue: string; kind: string; dedupe_key: string; payload: string }>(
      env,
      'SELECT * FROM jobs',
    );
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ queue: 'mosaic-qa', kind: 'grade', dedupe_key: `mosaic:${a.mosaicId}` });
    expect(JSON.parse(jobs[0].payload)).toEqual({
      mosaicId: a.mosaicId,
      path: a.files.fits,
      weightsPath: a.files.weights,
    });
  });

  it('a mosaic PNG that meets a full disk is deferred without an attempt and graded once space is back', async () => {
    diskDir = makeTmpDir('mqa-disk-');
    disk = mountTmpfs(`${diskDir}/out`, 4 * 1024 * 1024);
    env = await makeEnv({ outputDir: disk, minFreeMb: 0, maxAttempts: 1 });
    const filler = fillDisk(disk, 24 * 1024);
    const b = builtMosaic(env, 'science_disk', 'science', {
      nx: 3000,
      ny: 900,
      noiseJy: 0.001,
      sources: [{ x: 1500, y: 450, fluxJy: 1 }],
    });
    daemon = await startInProcess(env);
    const diskAlert = () =>
      query<{ status: string }>(env!, "SELECT status FROM alerts WHERE alertname = 'ThumbnailDiskFull'")[0];
    await waitFor(() => diskAlert()?.status === 'firing', {
      what: 'ThumbnailDiskFull firing',
      timeoutMs: 60_000,
    });
    const deferred = query<{ state: string; result: string }>(
      env,
      "SELECT state, result FROM jobs WHERE queue = 'mosaic-qa' ORDER BY id LIMIT 1",
    )[0];
    expect(deferred.state).toBe('done');
    expect(JSON.parse(deferred.result)).toEqual({ deferred: 'DISK_FULL' });
    // Nothing committed: still built, no QA row, no PNG and no temp file left on the disk.
    expect(snapshot(env, b)).toMatchObject({ state: 'built', qa_rows: 0, events: 0 });
    expect(
      fs.readdirSync(disk, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(png|tmp)$/.test(f)),
    ).toEqual([]);
    fs.rmSync(filler);
    const s = await gradedAtomically(env, b);
    expect(s).toMatchObject({ qa_status: 'pass', qa_rows: 1 });
    expect(fs.existsSync(s.thumbnail_path!)).toBe(true);
    await waitFor(() => diskAlert()?.status === 'resolved', { what: 'ThumbnailDiskFull resolved' });
  });

  it("the planned footprint is clipped to the inputs' own images when fits_metadata knows their size", async () => {
    env = await makeEnv();
    // Inputs 1° wide (400 px of 9"): the footprint discs shrink from the half-power 1.35° to 0.45°, and a
    // mosaic with data within 0.6° of its centre covers all of it.
    const b = builtMosaic(env, 'science_small', 'science', {
      nx: 600,
      ny: 600,
      noiseJy: 0.001,
      sources: [{ x: 300, y: 300, fluxJy: 1 }],
      covered: (x, y) => Math.hypot(x - 299.5, y - 299.5) * 10 < 0.6 * 3600,
    });
    const db = new Database(env.statePath);
    for (const ord of [0, 1])
      db.prepare(
        `INSERT INTO fits_metadata (path, fingerprint, size, mtime_ns, ino, hdu, bitpix, naxis_json, cdelt1, cdelt2,
           bmaj_deg, parsed_at) VALUES (?, 'fp', 1, '1', 1, 0, -32, '[400,400,1,1]', -0.0025, 0.0025, 0.01, 0)`,
      ).run(`/images/science_small-${ord}.image.fits`);
    db.close();
    daemon = await startInProcess(env);
    const s = await gradedAtomically(env, b);
    const [qa] = query<{ coverage_fraction: number; reasons_json: string }>(env, 'SELECT * FROM mosaic_qa');
    expect(qa.coverage_fraction).toBe(1);
    expect(s.qa_status).toBe('pass');
  });
});
