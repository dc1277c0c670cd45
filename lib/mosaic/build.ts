// The reference mosaic builder (`contimg mosaic-build`): manifest in, mosaic + weight map + result JSON out.
// Order: re-check every input's fingerprint, inspect every header (continuum, frame, projection), check the
// memory model against the manifest's limit, then stream the tiles one at a time into two float64
// accumulators (one plane in memory at a time, only its footprint box mapped), and write both FITS files as
// `.partial`, fsync, rename. Inputs are only ever opened read-only. Nothing is left as `.partial` on failure.
import fs from 'node:fs';
import path from 'node:path';
import { readPlane } from '../fits/plane.js';
import { MosaicCanvas, canvasStats, type CanvasStats } from './accumulate.js';
import { beamFwhmDeg, makeBeam, smearSamples } from './beam.js';
import { BuildFailure, checkFingerprint, inspectInput, openInput, type InspectedInput } from './inputs.js';
import { BUILD_EXIT, type MosaicManifest, type MosaicResult } from './manifest.js';
import { estimateMemoryBytes } from './memory.js';
import { writeMosaicFiles } from './output.js';
import { addTile, footprintBox, nodeStepFor } from './tile-map.js';
import { gridWcs } from './wcs.js';

export { BuildFailure } from './inputs.js';

export interface BuildOptions {
  builderVersion: string;
  /** Checked between tiles: a set flag stops the build (SIGTERM). */
  stopRequested?: () => boolean;
  /** Progress lines (the CLI prints them to stderr). */
  log?: (msg: string) => void;
  /** The process's peak resident set so far, bytes (the CLI passes process.resourceUsage().maxRSS × 1024). */
  peakRssBytes?: () => number;
}

export interface BuildOutcome {
  exitCode: number;
  result: MosaicResult;
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Build the mosaic a parsed manifest describes. Never throws: every failure is an outcome with an exit code. */
export async function buildMosaic(m: MosaicManifest, opts: BuildOptions): Promise<BuildOutcome> {
  const started = performance.now();
  const skipped: { path: string; reason: string }[] = [];
  const partials = [`${m.outputs.fits}.partial`, `${m.outputs.weights}.partial`];
  let nUsed = 0;
  const base = (): Omit<MosaicResult, 'ok' | 'error_code' | 'error' | 'outputs' | 'stats'> => ({
    n_used: nUsed,
    skipped,
    grid: m.grid,
    builder_version: opts.builderVersion,
  });
  try {
    const { stats, bytes } = await build(m, opts, skipped, (n) => (nUsed = n));
    return {
      exitCode: BUILD_EXIT.ok,
      result: {
        ok: true,
        error_code: null,
        error: null,
        outputs: { fits: m.outputs.fits, weights: m.outputs.weights, bytes },
        ...base(),
        stats: {
          effective_noise_jy: stats.canvas.effectiveNoiseJy,
          median_input_noise_jy: stats.medianInputNoise,
          coverage_sq_deg: stats.coverageSqDeg,
          nan_fraction_in_footprint: stats.canvas.nanFractionInFootprint,
          peak_rss_bytes: opts.peakRssBytes?.() ?? 0,
          seconds: (performance.now() - started) / 1000,
        },
      },
    };
  } catch (e) {
    for (const p of partials) fs.rmSync(p, { force: true });
    const f =
      e instanceof BuildFailure
        ? e
        : ioLike(e)
          ? new BuildFailure(BUILD_EXIT.io, 'io', (e as Error).message)
          : new BuildFailure(BUILD_EXIT.buildError, 'build_error', (e as Error)?.stack ?? String(e));
    return {
      exitCode: f.exitCode,
      result: { ok: false, error_code: f.errorCode, error: f.message, outputs: null, ...base(), stats: null },
    };
  }
}

const IO_CODES = new Set([
  'ENOSPC',
  'EIO',
  'EACCES',
  'EPERM',
  'EROFS',
  'EDQUOT',
  'ENOENT',
  'EMFILE',
  'EBUSY',
]);
function ioLike(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && IO_CODES.has(code);
}

interface BuildStats {
  canvas: CanvasStats;
  medianInputNoise: number | null;
  coverageSqDeg: number;
}

async function build(
  m: MosaicManifest,
  opts: BuildOptions,
  skipped: { path: string; reason: string }[],
  setUsed: (n: number) => void,
): Promise<{ stats: BuildStats; bytes: number }> {
  const log = opts.log ?? (() => {});
  if (m.inputs.some((i) => i.pb.model !== 'airy')) {
    throw new BuildFailure(
      BUILD_EXIT.validation,
      'bad_manifest',
      'pb.model "file" is not supported by the reference builder (only "airy")',
    );
  }
  for (const input of m.inputs) checkFingerprint(input);
  const inspected: InspectedInput[] = [];
  for (const input of m.inputs) {
    const img = openInput(input.path);
    try {
      inspected.push(inspectInput(input, img, m.grid.frame));
    } finally {
      img.close();
    }
  }
  const canvasPx = m.grid.nx * m.grid.ny;
  const largest = Math.max(...inspected.map((t) => t.nx * t.ny));
  const need = estimateMemoryBytes(canvasPx, largest);
  if (need > m.limits.memory_bytes) {
    throw new BuildFailure(
      BUILD_EXIT.validation,
      'grid_too_large',
      `canvas ${m.grid.nx}×${m.grid.ny} with a largest input of ${largest} px needs ≈ ${need} bytes, over the ` +
        `limit of ${m.limits.memory_bytes}; split the unit in RA`,
    );
  }
  const grid = gridWcs(m.grid);
  const canvas = new MosaicCanvas(m.grid.nx, m.grid.ny);
  const usedNoise: number[] = [];
  for (const t of inspected) {
    if (opts.stopRequested?.())
      throw new BuildFailure(BUILD_EXIT.buildError, 'build_error', 'stopped (SIGTERM)');
    const box = footprintBox(t.wcs, t.nx, t.ny, grid, m.grid.nx, m.grid.ny);
    if (!box) {
      skipped.push({ path: t.input.path, reason: 'outside_grid' });
      continue;
    }
    const img = openInput(t.input.path);
    let pixels: Float32Array | Float64Array | undefined;
    try {
      const fp = img.fingerprint;
      if (fp.size !== t.input.size || fp.mtimeNs !== t.input.mtime_ns || fp.ino !== t.input.ino)
        throw new BuildFailure(
          BUILD_EXIT.validation,
          'input_changed',
          `${t.input.path}: changed during the build`,
        );
      pixels = readPlane(img, 0);
    } finally {
      img.close();
    }
    const spec = {
      dishM: t.input.pb.dish_m,
      freqHz: t.freqHz,
      pointing: t.input.pb.pointing,
      smearRaDeg: t.input.pb.smear_ra_deg,
    };
    const contribution = addTile(
      canvas,
      grid,
      {
        wcs: t.wcs,
        nx: t.nx,
        ny: t.ny,
        pixels,
        beam: makeBeam(spec),
        invVar: 1 / t.input.noise_jy ** 2,
        pbcor: t.input.kind === 'pbcor',
      },
      box,
      {
        pbCutoff: m.weighting.pb_cutoff,
        interpolation: m.interpolation,
        step: nodeStepFor(m.grid.pixel_arcsec, beamFwhmDeg(spec.dishM, spec.freqHz)),
      },
    );
    pixels = undefined;
    if (contribution.used === 0) {
      skipped.push({
        path: t.input.path,
        reason: contribution.footprint === 0 ? 'outside_grid' : 'all_blank',
      });
    } else {
      usedNoise.push(t.input.noise_jy);
      setUsed(usedNoise.length);
    }
    log(
      `${path.basename(t.input.path)}: ${contribution.used} px used of ${contribution.footprint} in footprint ` +
        `(box ${box.x1 - box.x0 + 1}×${box.y1 - box.y0 + 1}, beam at ${t.freqHz.toExponential(4)} Hz from ` +
        `${t.freqSource}, ${smearSamples(spec)} drift samples)`,
    );
    await yieldToLoop();
  }
  if (usedNoise.length === 0) {
    throw new BuildFailure(
      BUILD_EXIT.validation,
      'no_usable_inputs',
      `none of the ${m.inputs.length} inputs adds a pixel above pb_cutoff ${m.weighting.pb_cutoff} on the grid`,
    );
  }
  const stats: BuildStats = {
    canvas: canvasStats(canvas),
    medianInputNoise: median(usedNoise),
    coverageSqDeg: 0,
  };
  if (opts.stopRequested?.())
    throw new BuildFailure(BUILD_EXIT.buildError, 'build_error', 'stopped (SIGTERM)');
  const written = writeMosaicFiles(m, canvas, grid, stats.canvas, {
    nUsed: usedNoise.length,
    medianInputNoise: stats.medianInputNoise,
    first: inspected[0],
    builderVersion: opts.builderVersion,
  });
  stats.coverageSqDeg = written.coverageSqDeg;
  return { stats, bytes: written.bytes };
}
