// GET /api/thumbnails/:id/metadata: metadata only for images the daemon knows (by row id), never by a path
// from the request; the stat and header read happen in a pool thread, so a FIFO or a slow source never
// blocks the event loop (/healthz keeps answering).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { waitFor } from '../../helpers/wait.js';
import { addImageRow, daemonPerTest, makeEnv, metricValue, rowFor, startInProcess } from './harness.js';

const t = daemonPerTest();

async function get(
  d: RunningDaemon,
  route: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${d.port}${route}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** A daemon that has rendered one simulated image: its path, row id and the daemon. */
async function renderedImage(name: string): Promise<{ img: string; id: number; daemon: RunningDaemon }> {
  const env = (t.env = await makeEnv());
  const img = writeSimulatedImage({ dir: env.imagesDir, name, nx: 64, ny: 64, seed: 3 });
  addImageRow(env, img);
  const daemon = (t.daemon = await startInProcess(env));
  const row = await waitFor(() => rowFor(env, img)?.status === 'done' && rowFor(env, img), {
    what: 'rendered',
  });
  return { img, id: row.id, daemon };
}

describe('metadata API by thumbnail id', () => {
  it('serves the cached row while the file is unchanged, re-reads the header when it changed, 404 otherwise', async () => {
    const { img, id, daemon } = await renderedImage('m-image.fits');
    const hit = await get(daemon, `/api/thumbnails/${id}/metadata`);
    expect(hit.status).toBe(200);
    expect(hit.body).toMatchObject({ thumbnailId: id, source: 'cache', path: img, freqHz: 1.4049e9 });
    expect(hit.body.stats).toMatchObject({ plane: 0, qaGrade: expect.any(String) });
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(img, later, later);
    const stale = await get(daemon, `/api/thumbnails/${id}/metadata`);
    expect(stale.body).toMatchObject({ source: 'header', path: img, freqHz: 1.4049e9, stats: null });
    // One shape whichever answered: the same keys from the cached row and from the header read again.
    expect(Object.keys(stale.body).sort()).toEqual(Object.keys(hit.body).sort());
    expect(stale.body.fingerprint).not.toBe(hit.body.fingerprint);
    expect(await metricValue(daemon, 'contimg_thumbnails_meta_cache_total', { result: 'stale' })).toBe(1);
    expect((await get(daemon, '/api/thumbnails/999999/metadata')).status).toBe(404);
    expect((await get(daemon, '/api/thumbnails/x/metadata')).status).toBe(400);
    // The old path route is gone: a path from the request is never opened.
    expect((await get(daemon, `/api/fits/metadata?path=${encodeURIComponent(img)}`)).status).toBe(404);
    expect((await get(daemon, '/api/fits/metadata?path=/etc/shadow')).status).toBe(404);
  });

  it('answers for a row whose source became a FIFO without blocking the event loop', async () => {
    const { img, id, daemon } = await renderedImage('f-image.fits');
    fs.rmSync(img);
    execFileSync('mkfifo', [img]);
    const t0 = Date.now();
    const [meta, health] = await Promise.all([
      get(daemon, `/api/thumbnails/${id}/metadata`),
      get(daemon, '/healthz'),
    ]);
    expect(health.status).toBe(200);
    expect(meta).toMatchObject({ status: 422, body: { error: 'NOT_REGULAR_FILE' } });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(path.basename(String(meta.body.message))).toMatch(/not a regular file/);
  });
});
