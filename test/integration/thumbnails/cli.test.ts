// The contimg commands of this area, run as processes on the built CLI, with the exact JSON shapes.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { runCli } from '../../helpers/cli.js';
import { removeTmpDir, SHARED_DATA } from '../../helpers/tmp.js';
import { parseConfig } from '../../../lib/config/index.js';
import { renderThumbnail } from '../../../lib/fits/index.js';
import { presetOptions } from '../../../daemons/thumbnail-worker/presets.js';
import { card, decodePng, writeRaw } from '../../unit/fits/helpers.js';
import { makeEnv, query, type Env } from './harness.js';

const run = async (...args: string[]): Promise<unknown> => {
  const r = await runCli(args, { built: true });
  if (r.code !== 0) throw new Error(`contimg ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};
const oracle = JSON.parse(fs.readFileSync(path.join(SHARED_DATA, 'fits/oracle-astropy.json'), 'utf8')) as {
  files: Record<
    string,
    { n_finite: number; min: number; max: number; sum: number; 'zscale_0.2': [number, number] }
  >;
};

let env: Env | undefined;
afterEach(() => {
  if (env) removeTmpDir(env.dir);
  env = undefined;
});

describe('contimg fits / thumbnail / thumbnails', () => {
  it('fits stats --json matches astropy on Parkes; fits header --json has the §7.2 fields', async () => {
    const f = path.join(SHARED_DATA, 'fits/parkes-1904-66_AZP.fits');
    const s = (await run('fits', 'stats', f, '--contrast', '0.2', '--json')) as Record<string, unknown>;
    const o = oracle.files['parkes-1904-66_AZP.fits'];
    expect(s).toMatchObject({
      bitpix: -32,
      shape: [192, 192],
      planeNx: 192,
      planeNy: 192,
      nFinite: o.n_finite,
      min: o.min,
      max: o.max,
    });
    const z = s.zscale as [number, number];
    expect(Math.abs(z[0] - o['zscale_0.2'][0])).toBeLessThan(1e-6 * (o.max - o.min));
    const h = (await run('fits', 'header', f, '--json')) as Record<string, unknown>;
    expect(h).toMatchObject({ bunit: 'JY/BEAM', beamSource: 'keywords', raDeg: 0, glonDeg: null });
    expect(h.restfreqHz).toBeGreaterThan(1e9);
  });

  it('fits stats gives zscale null when no pixel is finite', async () => {
    const s = (await run(
      'fits',
      'stats',
      path.join(SHARED_DATA, 'fits/astropy-blank.fits'),
      '--json',
    )) as Record<string, unknown>;
    expect(s).toMatchObject({ nFinite: 0, zscale: null });
  });

  it('thumbnail --json writes the PNG and reports its shape and limits', async () => {
    env = await makeEnv();
    const out = path.join(env.dir, 'ngc.png');
    const r = (await run(
      'thumbnail',
      path.join(SHARED_DATA, 'fits/ngc1316r.fit'),
      '--out',
      out,
      '--max-dim',
      '440',
      '--interval',
      'minmax',
      '--stretch',
      'sqrt',
      '--colormap',
      'viridis',
      '--json',
    )) as Record<string, number>;
    expect(r).toMatchObject({ width: 440, height: 300, vmin: -14, vmax: 1233 });
    expect(r.nFinite).toBe(132000);
    expect(r.renderMs).toBeGreaterThan(0);
    expect(decodePng(fs.readFileSync(out)).width).toBe(440);
  });

  it("thumbnail's defaults are the daemon's default preset: the same PNG bytes, a linear stretch", async () => {
    env = await makeEnv();
    const file = path.join(SHARED_DATA, 'fits/parkes-1904-66_AZP.fits');
    const out = path.join(env.dir, 'cli.png');
    const r = (await run('thumbnail', file, '--out', out, '--json')) as Record<string, unknown>;
    expect(r).toMatchObject({ stretch: 'linear', interval: 'zscale', contrast: 0.2, colormap: 'inferno' });
    const raw = { dataDir: env.dir, databases: { state: env.statePath, pipeline: env.pipelinePath } };
    const daemonDefault = presetOptions(parseConfig(raw, env.dir).thumbnailWorker).q512;
    expect(daemonDefault.stretch).toBe('linear');
    expect(fs.readFileSync(out).equals(renderThumbnail(file, daemonDefault).png)).toBe(true);
  });

  it('thumbnail and fits stats refuse a plane over the maxPixels guard (the daemon default, or --max-pixels)', async () => {
    env = await makeEnv();
    // A header that claims 20000 × 20000 pixels and has no data: refused from the header, nothing read.
    const huge = writeRaw(path.join(env.dir, 'huge.fits'), [
      card('SIMPLE', 'T'),
      card('BITPIX', '-32'),
      card('NAXIS', '2'),
      card('NAXIS1', '20000'),
      card('NAXIS2', '20000'),
    ]);
    for (const args of [
      ['thumbnail', huge, '--out', path.join(env.dir, 'h.png')],
      ['fits', 'stats', huge],
    ]) {
      const r = await runCli(args, { built: true });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/exceeds maxPixels 268435456/);
    }
    const parkes = path.join(SHARED_DATA, 'fits/parkes-1904-66_AZP.fits');
    const small = await runCli(['fits', 'stats', parkes, '--max-pixels', '1000'], { built: true });
    expect([small.code, small.stderr]).toEqual([
      1,
      expect.stringMatching(/192×192 plane exceeds maxPixels 1000/),
    ]);
    const thumb = await runCli(
      ['thumbnail', parkes, '--out', path.join(env.dir, 'p.png'), '--max-pixels', '1000'],
      {
        built: true,
      },
    );
    expect(thumb.code).toBe(1);
    expect(fs.existsSync(path.join(env.dir, 'p.png'))).toBe(false);
  });

  it('thumbnails render-all, list and retry work on the configured databases', async () => {
    env = await makeEnv();
    const pipeline = new Database(env.pipelinePath);
    const good = writeSimulatedImage({ dir: env.imagesDir, name: 'a-image.fits', nx: 40, ny: 40, seed: 1 });
    const bad = path.join(env.imagesDir, 'b-image.fits');
    fs.writeFileSync(bad, Buffer.alloc(3000, 0x42));
    for (const p of [good, bad])
      pipeline
        .prepare("INSERT INTO images (path, ms_path, created_at, type) VALUES (?, 'x.ms', 0, '5min')")
        .run(p);
    pipeline.close();
    const all = await run('thumbnails', 'render-all', '--config', env.configFile, '--json');
    expect(all).toEqual({ total: 2, done: 1, failed: 1 });
    const list = (await run('thumbnails', 'list', '--config', env.configFile, '--json')) as {
      fitsPath: string;
      status: string;
      errorCode: string | null;
    }[];
    expect(list.map((r) => [path.basename(r.fitsPath), r.status, r.errorCode]).sort()).toEqual([
      ['a-image.fits', 'done', null],
      ['b-image.fits', 'failed', 'NOT_FITS'],
    ]);
    expect(await run('thumbnails', 'retry', '--config', env.configFile, '--json')).toEqual({ requeued: 1 });
    expect(
      query<{ status: string }>(env, 'SELECT status FROM thumbnails WHERE fits_path = ?', bad)[0].status,
    ).toBe('pending');
  });
});
