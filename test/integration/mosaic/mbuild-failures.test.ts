// The builder's unhappy paths: each ends in its exit code and result error_code, with no `.partial` left and
// the inputs untouched. A file changed after planning, a manifest that breaks the contract, a canvas over the
// memory limit, tiles that miss the grid, and a full output disk (a real tmpfs).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUILD_EXIT, parseResult } from '../../../lib/mosaic/manifest.js';
import { runMosaicBuild } from '../../../lib/mosaic/run.js';
import { manifestFromTiles, writeMosaicTiles, type SimulatedTile } from '../../../lib/sim/mosaic-tiles.js';
import { runCli, spawnCli } from '../../helpers/cli.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { mountTmpfs, unmountTmpfs } from '../../helpers/tmpfs.js';
import { partialsIn, writeManifest } from './mbuild-helpers.js';
import { waitFor } from '../../helpers/wait.js';

let dir: string;
let tiles: SimulatedTile[];
beforeEach(() => {
  dir = makeTmpDir('mbuild-fail-');
  tiles = writeMosaicTiles({ dir: path.join(dir, 'in'), n: 3, nx: 128, seed: 9 });
});
afterEach(() => {
  unmountTmpfs(path.join(dir, 'small'));
  removeTmpDir(dir);
});

async function run(
  m: ReturnType<typeof manifestFromTiles>,
): Promise<{ code: number; res: ReturnType<typeof parseResult> }> {
  const r = await runMosaicBuild(writeManifest(m, path.join(dir, 'm.json')), m.result_path);
  const res = parseResult(fs.readFileSync(m.result_path, 'utf8'));
  expect(res).toEqual(r.result);
  expect(partialsIn(path.dirname(m.outputs.fits))).toEqual([]);
  expect(fs.existsSync(m.outputs.fits)).toBe(false);
  return { code: r.exitCode, res };
}

describe('mosaic-build failures', () => {
  it('an input rewritten after planning → exit 5 input_changed; one deleted → the same', async () => {
    const m = manifestFromTiles(tiles, { outputDir: path.join(dir, 'out') });
    fs.appendFileSync(tiles[1].path, Buffer.alloc(2880));
    const a = await run(m);
    expect([a.code, a.res.error_code]).toEqual([BUILD_EXIT.validation, 'input_changed']);
    expect(a.res.error).toContain(tiles[1].path);
    fs.rmSync(tiles[1].path);
    const b = await run(m);
    expect([b.code, b.res.error_code]).toEqual([BUILD_EXIT.validation, 'input_changed']);
  });

  it('a manifest that breaks the contract → exit 5 bad_manifest naming the field; an unreadable one → exit 2 io', async () => {
    const m = manifestFromTiles(tiles, { outputDir: path.join(dir, 'out') });
    const bad = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
    (bad.weighting as Record<string, unknown>).pb_cutoff = 1.5;
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify(bad));
    const result = path.join(dir, 'r.json');
    const r = await runMosaicBuild(file, result);
    expect(r.exitCode).toBe(BUILD_EXIT.validation);
    expect(r.result.error_code).toBe('bad_manifest');
    expect(r.result.error).toMatch(/weighting\.pb_cutoff/);
    expect(parseResult(fs.readFileSync(result, 'utf8')).error_code).toBe('bad_manifest');
    const missing = await runMosaicBuild(path.join(dir, 'nope.json'), result);
    expect([missing.exitCode, missing.result.error_code]).toEqual([BUILD_EXIT.io, 'io']);
  });

  it('a canvas whose memory model exceeds limits.memory_bytes → exit 5 grid_too_large', async () => {
    const m = manifestFromTiles(tiles, { outputDir: path.join(dir, 'out'), memoryBytes: 300 * 1024 * 1024 });
    m.grid = { ...m.grid, nx: 4000, ny: 4000 }; // 16.125 B × 16 Mpx + 128 MiB > 300 MiB
    const { code, res } = await run(m);
    expect([code, res.error_code]).toEqual([BUILD_EXIT.validation, 'grid_too_large']);
    expect(res.error).toMatch(/split/);
  });

  it('tiles that miss the grid are skipped; with none left → exit 5 no_usable_inputs', async () => {
    const m = manifestFromTiles(tiles, { outputDir: path.join(dir, 'out') });
    m.grid = { ...m.grid, center: { ra: (m.grid.center.ra + 90) % 360, dec: m.grid.center.dec } };
    const { code, res } = await run(m);
    expect([code, res.error_code]).toEqual([BUILD_EXIT.validation, 'no_usable_inputs']);
    expect(res.skipped.map((s) => s.reason)).toEqual(['outside_grid', 'outside_grid', 'outside_grid']);
  });

  it('a full output disk → exit 2 io, no .partial left, the result JSON still written elsewhere', async () => {
    const small = mountTmpfs(path.join(dir, 'small'), 64 * 1024);
    const m = manifestFromTiles(tiles, { outputDir: small });
    const result = path.join(dir, 'result.json');
    const manifest = writeManifest({ ...m, result_path: result }, path.join(dir, 'm.json'));
    const r = await runCli(['mosaic-build', '--manifest', manifest, '--result', result], { built: true });
    expect(r.code).toBe(BUILD_EXIT.io);
    const res = parseResult(fs.readFileSync(result, 'utf8'));
    expect(res.error_code).toBe('io');
    expect(res.error).toMatch(/ENOSPC/);
    expect(fs.readdirSync(small)).toEqual([]);
  });
});

describe('mosaic-build stopped by SIGTERM (the dispatcher timing it out)', () => {
  it('stops between tiles, exits 143, writes the result and leaves no .partial', async () => {
    const many = writeMosaicTiles({ dir: path.join(dir, 'many'), n: 24, nx: 256, seed: 2 });
    const out = path.join(dir, 'out');
    const m = manifestFromTiles(many, { outputDir: out });
    const manifest = writeManifest(m, path.join(dir, 'm.json'));
    const { child, done } = spawnCli(['mosaic-build', '--manifest', manifest, '--result', m.result_path], {
      built: true,
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      await waitFor(() => stderr.includes('tile_000.image.fits'), { timeoutMs: 30_000 });
      child.kill('SIGTERM');
      const r = await done;
      expect(r.code).toBe(143);
      const res = parseResult(fs.readFileSync(m.result_path, 'utf8'));
      expect(res).toMatchObject({ ok: false, error_code: 'build_error', outputs: null });
      expect(res.error).toMatch(/SIGTERM/);
      expect(partialsIn(out)).toEqual([]);
      expect(fs.existsSync(m.outputs.fits)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
