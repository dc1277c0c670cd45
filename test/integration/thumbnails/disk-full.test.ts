// A full output disk (a real 4 MiB tmpfs): claiming pauses with an alert and an event, a render that meets
// ENOSPC is deferred without spending an attempt (maxAttempts 1 would otherwise fail the row at once),
// nothing truncated is ever committed, and every row ends done once space is back.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { checkPng } from '../../helpers/png-check.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../../helpers/tmpfs.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { addImageRow, makeEnv, metricValue, query, thumbs, startInProcess, type Env } from './harness.js';

let env: Env | undefined;
let daemon: RunningDaemon | undefined;
let disk: string | undefined;
let diskDir: string | undefined;
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = undefined;
  if (disk) unmountTmpfs(disk);
  if (diskDir) removeTmpDir(diskDir);
  disk = diskDir = undefined;
  if (env) removeTmpDir(env.dir);
  env = undefined;
});

const MiB = 1024 * 1024;

async function setup(section: Record<string, unknown>, leave: number): Promise<{ e: Env; filler: string }> {
  diskDir = makeTmpDir('thumbs-disk-');
  disk = mountTmpfs(path.join(diskDir, 'out'), 4 * MiB);
  env = await makeEnv({ outputDir: disk, maxAttempts: 1, ...section });
  const e = env;
  for (let i = 0; i < 6; i++) {
    const p = writeSimulatedImage({
      dir: e.imagesDir,
      name: `full${i}-image.fits`,
      nx: 256,
      ny: 256,
      seed: i + 1,
    });
    addImageRow(e, p);
  }
  return { e, filler: fillDisk(disk, leave) };
}

interface AlertLite {
  status: string;
  annotations: string;
}
const alertOf = (e: Env): AlertLite | undefined =>
  query<AlertLite>(e, "SELECT status, annotations FROM alerts WHERE alertname = 'ThumbnailDiskFull'")[0];
const eventTypes = (e: Env): string[] =>
  query<{ type: string }>(e, "SELECT type FROM events WHERE topic = 'thumbnails' ORDER BY seq").map(
    (r) => r.type,
  );

/** Every PNG under the output disk is complete; no temp file is left. */
function allPngsSound(dir: string): number {
  const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' });
  expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  const pngs = files.filter((f) => f.endsWith('.png'));
  for (const f of pngs) checkPng(fs.readFileSync(path.join(dir, f)));
  return pngs.length;
}

describe('thumbnail worker on a full disk', () => {
  it('defers a render that meets ENOSPC without an attempt, pauses with an alert, and finishes every row when space returns', async () => {
    const { e, filler } = await setup({ minFreeMb: 0 }, 24 * 1024);
    daemon = await startInProcess(e);
    await waitFor(() => alertOf(e)?.status === 'firing', { what: 'ThumbnailDiskFull firing' });
    expect(
      await metricValue(daemon, 'contimg_thumbnails_jobs_total', { outcome: 'deferred' }),
    ).toBeGreaterThan(0);
    expect(await metricValue(daemon, 'contimg_thumbnails_paused', { reason: 'disk' })).toBe(1);
    expect(eventTypes(e)).toContain('thumbnail.paused');
    // Paused: nothing failed, nothing more is claimed, and no truncated PNG was committed.
    const during = thumbs(e);
    expect(during.filter((t) => t.status === 'failed')).toEqual([]);
    for (const t of during.filter((r) => r.status === 'done')) checkPng(fs.readFileSync(t.png_path!));
    allPngsSound(disk!);
    const deferred = during.filter((t) => t.error_code === 'DISK_FULL');
    expect(deferred.length).toBeGreaterThan(0);
    expect(deferred.every((t) => t.status === 'pending' && t.attempts === 0)).toBe(true);

    fs.rmSync(filler);
    const rows = await waitFor(() => thumbs(e).every((t) => t.status === 'done') && thumbs(e), {
      what: 'every row done after space returned',
      timeoutMs: 40_000,
    });
    expect(rows).toHaveLength(6);
    expect(rows.every((t) => t.attempts === 1)).toBe(true);
    for (const t of rows) expect(checkPng(fs.readFileSync(t.png_path!)).width).toBe(256);
    expect(allPngsSound(disk!)).toBe(6);
    await waitFor(() => alertOf(e)?.status === 'resolved', { what: 'alert resolved' });
    expect(eventTypes(e)).toContain('thumbnail.resumed');
    expect(await metricValue(daemon, 'contimg_thumbnails_paused', { reason: 'disk' })).toBe(0);
    expect(await metricValue(daemon, 'contimg_thumbnails_jobs_total', { outcome: 'failed' })).toBe(0);
  });

  it('does not claim while free space is below minFreeMb, and resumes when it is back', async () => {
    const { e, filler } = await setup({ minFreeMb: 2 }, 1 * MiB);
    daemon = await startInProcess(e);
    await waitFor(() => alertOf(e)?.status === 'firing', { what: 'ThumbnailDiskFull firing' });
    expect(JSON.parse(alertOf(e)!.annotations).summary).toMatch(/below thumbnailWorker.minFreeMb/);
    // Discovery keeps enqueueing; the queue worker claims nothing while paused.
    await waitFor(
      () => query<{ n: number }>(e, "SELECT count(*) AS n FROM jobs WHERE state = 'queued'")[0].n === 6,
      { what: 'six queued jobs' },
    );
    expect(query<{ n: number }>(e, 'SELECT count(*) AS n FROM jobs WHERE attempts > 0')[0].n).toBe(0);
    expect(await metricValue(daemon, 'contimg_thumbnails_jobs_total', { outcome: 'deferred' })).toBe(0);
    fs.rmSync(filler);
    await waitFor(() => thumbs(e).every((t) => t.status === 'done'), {
      what: 'rows done',
      timeoutMs: 40_000,
    });
    await waitFor(() => alertOf(e)?.status === 'resolved', { what: 'alert resolved' });
    expect(allPngsSound(disk!)).toBe(6);
  });
});
