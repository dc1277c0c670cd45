// The preset is part of what makes a thumbnail current: after a change of look, done thumbnails are
// re-rendered once (and only once), in the background, below new images in the queue.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../lib/clock.js';
import type { Config } from '../../../lib/config/index.js';
import { thumbnailPresetSchema } from '../../../lib/config/sections/thumbnail-worker.js';
import { openDb } from '../../../lib/db/index.js';
import { Registry } from '../../../lib/metrics.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { Discovery, RESTYLE_PRIORITY } from '../../../daemons/thumbnail-worker/discovery.js';
import { thumbnailMetrics } from '../../../daemons/thumbnail-worker/metrics.js';
import { presetLooks } from '../../../daemons/thumbnail-worker/presets.js';
import { waitFor } from '../../helpers/wait.js';
import {
  addImageRow,
  daemonPerTest,
  makeEnv,
  metricValue,
  query,
  startInProcess,
  thumbs,
  type Env,
} from './harness.js';

const t = daemonPerTest();

const withPreset = (cfg: Config, preset: Record<string, unknown>): Config => ({
  ...cfg,
  thumbnailWorker: { ...cfg.thumbnailWorker, presets: { q512: thumbnailPresetSchema.parse(preset) } },
});

const updatesPerPath = (e: Env): Record<string, number> =>
  Object.fromEntries(
    query<{ path: string; n: number }>(
      e,
      `SELECT json_extract(payload, '$.path') AS path, count(*) AS n FROM events
       WHERE topic = 'thumbnails' AND type = 'thumbnail.updated' GROUP BY path`,
    ).map((r) => [r.path, r.n]),
  );

const lookOf = (params: string | null): unknown => (params ? JSON.parse(params).look : undefined);

describe('a changed look', () => {
  it('re-renders existing thumbnails once, queued below new images, and never again', async () => {
    const e = (t.env = await makeEnv({ reconcileS: 0.2 }));
    const old = Array.from({ length: 5 }, (_, i) =>
      writeSimulatedImage({ dir: e.imagesDir, name: `old${i}-image.fits`, nx: 96, ny: 96, seed: i + 1 }),
    );
    old.forEach((p) => addImageRow(e, p));
    const asinh = withPreset(e.config, { stretch: 'asinh' });
    let daemon = (t.daemon = await startInProcess(e, asinh));
    await waitFor(() => thumbs(e).filter((t) => t.status === 'done').length === 5, {
      what: 'old look rendered',
    });
    await daemon.stop('look changes');
    const oldPngs = thumbs(e).map((t) => t.png_path!);
    const oldLook = presetLooks(asinh.thumbnailWorker).q512;
    const newLook = presetLooks(e.config.thumbnailWorker).q512;
    expect(newLook).not.toBe(oldLook);

    // The new look's discovery: restyles are queued first, then two new images arrive; the claim order
    // still takes the new images first.
    const state = openDb({ name: 'state', path: e.statePath });
    const pipeline = openDb({ name: 'pipeline', path: e.pipelinePath, readonly: true });
    const fresh: string[] = [];
    try {
      const discovery = new Discovery({
        state,
        pipeline,
        clock: systemClock,
        metrics: thumbnailMetrics(new Registry()),
        variants: ['q512'],
        looks: { q512: newLook },
        includeGlobs: ['*-image.fits'],
        settleMs: 0,
        maxAttempts: 4,
        renderTimeoutMs: 60_000,
      });
      expect(discovery.tick().restyled).toBe(5);
      expect(discovery.tick().enqueued).toBe(5);
      for (let i = 0; i < 2; i++) {
        fresh.push(
          writeSimulatedImage({ dir: e.imagesDir, name: `new${i}-image.fits`, nx: 64, ny: 64, seed: 9 + i }),
        );
        addImageRow(e, fresh[i]);
      }
      expect(discovery.tick()).toMatchObject({ added: 2, enqueued: 2, restyled: 0 });
      const claimed = new SqliteQueueStore(state).claim({
        queue: 'thumbnails',
        owner: 'probe',
        leaseMs: 1,
        limit: 3,
      });
      expect(
        claimed
          .map((j) => (j.payload as { fitsPath: string }).fitsPath)
          .slice(0, 2)
          .sort(),
      ).toEqual([...fresh].sort());
      expect(claimed[2].priority).toBe(RESTYLE_PRIORITY);
    } finally {
      state.close();
      pipeline.close();
    }

    daemon = t.daemon = await startInProcess(e);
    await waitFor(
      () => {
        const counts = updatesPerPath(e);
        return old.every((p) => counts[p] === 2) && fresh.every((p) => counts[p] === 1);
      },
      { what: 'old thumbnails re-rendered once, new ones rendered', timeoutMs: 30_000 },
    );
    const rows = await waitFor(() => thumbs(e).every((t) => t.status === 'done') && thumbs(e), {
      what: 'all done',
    });
    for (const t of rows) {
      const params = query<{ params_json: string }>(
        e,
        'SELECT params_json FROM thumbnails WHERE id = ?',
        t.id,
      )[0];
      expect(lookOf(params.params_json)).toBe(newLook);
      expect(t.png_path).toContain(`_${newLook.slice(0, 8)}.png`);
    }
    for (const p of oldPngs) expect(fs.existsSync(p)).toBe(false);
    expect(await metricValue(daemon, 'contimg_thumbnails_discovered_total', { reason: 'restyle' })).toBe(0);

    // Once only: more reconcile passes (each re-arms the restyle sweep) and a restart render nothing more.
    const passes = await metricValue(daemon, 'contimg_thumbnails_reconcile_passes_total');
    await waitFor(
      async () => (await metricValue(daemon, 'contimg_thumbnails_reconcile_passes_total')) >= passes + 3,
      {
        what: 'three reconcile passes',
      },
    );
    await daemon.stop('restart');
    daemon = t.daemon = await startInProcess(e);
    const restarted = await metricValue(daemon, 'contimg_thumbnails_reconcile_passes_total');
    await waitFor(
      async () => (await metricValue(daemon, 'contimg_thumbnails_reconcile_passes_total')) >= restarted + 3,
      {
        what: 'three reconcile passes after the restart',
      },
    );
    const counts = updatesPerPath(e);
    expect(old.map((p) => counts[p])).toEqual([2, 2, 2, 2, 2]);
    expect(fresh.map((p) => counts[p])).toEqual([1, 1]);
    expect(query<{ n: number }>(e, 'SELECT count(*) AS n FROM jobs')[0].n).toBe(12);
  });
});
