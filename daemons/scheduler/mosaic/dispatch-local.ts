// A mosaic build on this host, on the process machinery the converter uses (lib/exec): the builder runs under
// the supervisor in its own process group, cwd = its attempt directory (scratchDir/<plan>/attempt-N) with
// CONTIMG_MOSAIC_ATTEMPT=<that directory> in its environment, and the supervisor records supervisor.json and
// exit.json there. The manifest is written beside the products before the spawn. A timeout sends SIGTERM to
// the group, SIGKILL after killGraceS; a build adopted after a restart is awaited by pid + start ticks with
// the same deadline. How it ended is read back from the attempt directory and the result file (BuildEnd).
import fs from 'node:fs';
import path from 'node:path';
import { env as processEnv } from 'node:process';
import { SIDEREAL_DAY_S } from '../../../lib/astro/time.js';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import { clearAttemptFiles, type SupervisorRecord } from '../../../lib/exec/attempt-files.js';
import type { ChildResult } from '../../../lib/exec/child.js';
import { awaitSupervisor, collectExit, runSupervised, stopMarked } from '../../../lib/exec/supervised.js';
import {
  MANIFEST_VERSION,
  MosaicManifest,
  mosaicPaths,
  type MosaicManifest as Manifest,
} from '../../../lib/mosaic/manifest.js';
import type { Lease } from '../../../lib/queue/index.js';
import type { BuildEnd } from './dispatch-outcome.js';
import { isFile, readResultFile } from './dispatch-outcome.js';
import type { PlanInputRow, PlanRow } from './dispatch-store.js';

/** The environment variable marking a build's processes; its value is the attempt directory. */
export const MOSAIC_MARKER = 'CONTIMG_MOSAIC_ATTEMPT';

export type MosaicPaths = ReturnType<typeof mosaicPaths>;

/** One attempt of one plan, as the dispatcher claimed it (or recovery found it). */
export interface BuildRun {
  plan: PlanRow;
  attemptId: number;
  attempt: number;
  /** attemptKey(row): the supervisor's files carry it. */
  key: string;
  /** scratchDir/<plan>/attempt-N: the builder's cwd and the marker's value. */
  dir: string;
  paths: MosaicPaths;
  lease: Lease;
}

export function attemptDir(scratchDir: string, planName: string, attempt: number): string {
  return path.join(scratchDir, planName, `attempt-${attempt}`);
}

export function pathsOf(
  cfg: MosaicConfig,
  plan: Pick<PlanRow, 'tier' | 'name' | 'window_start'>,
): MosaicPaths {
  return mosaicPaths(cfg.outputDir, plan.tier, plan.name, plan.window_start);
}

export function timeoutSOf(cfg: MosaicConfig, plan: Pick<PlanRow, 'tier'>): number {
  return cfg.tiers[plan.tier].timeoutS;
}

/** The manifest of a plan (the contract's shape, checked): throws with the offending field. */
export function manifestOf(
  cfg: MosaicConfig,
  plan: PlanRow,
  inputs: PlanInputRow[],
  paths: MosaicPaths,
): Manifest {
  const smear = cfg.pb.smear ? (cfg.cadenceS * 360) / SIDEREAL_DAY_S : 0;
  const raw = {
    version: MANIFEST_VERSION,
    plan_id: plan.id,
    name: plan.name,
    tier: plan.tier,
    inputs_hash: plan.inputs_hash,
    inputs: inputs.map((i) => ({
      path: i.path,
      size: i.size,
      mtime_ns: i.mtime_ns,
      ino: i.ino,
      obs_mid_utc: new Date(i.obs_mid).toISOString(),
      ra_deg: i.ra_deg,
      dec_deg: i.dec_deg,
      noise_jy: i.noise_jy,
      kind: i.kind,
      pb: {
        model: i.pb_path ? 'file' : cfg.pb.model,
        ...(i.pb_path ? { path: i.pb_path } : {}),
        dish_m: cfg.pb.dishDiameterM,
        freq_hz: cfg.pb.defaultFreqHz,
        pointing: { ra: i.ra_deg, dec: plan.strip_dec_deg },
        smear_ra_deg: smear,
      },
    })),
    grid: plan.grid_json === null ? null : (JSON.parse(plan.grid_json) as unknown),
    weighting: { scheme: 'pb2_over_var', pb_cutoff: cfg.pb.cutoff },
    interpolation: cfg.tiers[plan.tier].interpolation,
    outputs: { fits: paths.fits, weights: paths.weights },
    limits: {
      timeout_s: timeoutSOf(cfg, plan),
      memory_bytes: Math.round(cfg.builder.memoryMaxGb * 2 ** 30),
    },
    result_path: paths.result,
  };
  const r = MosaicManifest.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`manifest: ${i.path.join('.')}: ${i.message}`);
  }
  return r.data;
}

/** Write the manifest by temp file and rename (a builder never reads half of one). */
export function writeManifest(file: string, m: Manifest): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(m, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** Remove what a killed builder may have left of its outputs (they are only ever renamed into place). */
export function removePartials(paths: MosaicPaths): void {
  for (const f of [`${paths.fits}.partial`, `${paths.weights}.partial`, `${paths.result}.partial`])
    fs.rmSync(f, { force: true });
}

/** The builder's argv: the template's placeholders expanded inside their arguments (never a shell). */
export function builderArgv(cfg: MosaicConfig, run: Pick<BuildRun, 'plan' | 'dir' | 'paths'>): string[] {
  const vars: Record<string, string> = {
    manifest: run.paths.manifest,
    result: run.paths.result,
    scratch: run.dir,
    plan: run.plan.name,
  };
  const argv = cfg.builder.argv.map((a) => a.replace(/\{(\w+)\}/g, (w, k: string) => vars[k] ?? w));
  if (!cfg.builder.systemdScope) return argv;
  // Outside the scheduler's cgroup, with its memory limit: the OOM killer takes the build, not the daemon.
  return ['systemd-run', '--scope', '--quiet', '-p', `MemoryMax=${cfg.builder.memoryMaxGb}G`, '--', ...argv];
}

/** Prepare the attempt (directory, manifest, no leftovers); returns the argv. Throws when it cannot. */
export function prepare(cfg: MosaicConfig, run: BuildRun, inputs: PlanInputRow[]): string[] {
  const manifest = manifestOf(cfg, run.plan, inputs, run.paths);
  fs.mkdirSync(run.dir, { recursive: true });
  fs.mkdirSync(run.paths.dir, { recursive: true });
  clearAttemptFiles(run.dir);
  removePartials(run.paths);
  fs.rmSync(run.paths.result, { force: true });
  writeManifest(run.paths.manifest, manifest);
  return builderArgv(cfg, run);
}

export interface LocalHooks {
  /** The builder's base environment (process.env by default). */
  baseEnv?: NodeJS.ProcessEnv;
}

export class LocalBuilds {
  constructor(
    private readonly cfg: MosaicConfig,
    private readonly now: () => number,
    private readonly monotonic: () => number,
    private readonly hooks: LocalHooks,
  ) {}

  env(run: Pick<BuildRun, 'dir'>): NodeJS.ProcessEnv {
    return { ...(this.hooks.baseEnv ?? processEnv), ...this.cfg.builder.env, [MOSAIC_MARKER]: run.dir };
  }

  /** Start the builder under the supervisor; resolves with what the daemon saw. */
  spawn(
    run: BuildRun,
    argv: string[],
    signal: AbortSignal,
    onSpawn: (pid: number) => void,
  ): Promise<ChildResult> {
    return runSupervised({
      key: run.key,
      dir: run.dir,
      argv,
      env: this.env(run),
      timeoutMs: timeoutSOf(this.cfg, run.plan) * 1000,
      killGraceMs: this.cfg.builder.killGraceS * 1000,
      signal,
      now: this.now,
      onSpawn,
    });
  }

  /** Await an adopted build's supervisor (deadline counted from its spawn). */
  async watch(
    run: BuildRun,
    sup: SupervisorRecord,
    spawnedAt: number,
    signal: AbortSignal,
  ): Promise<ChildResult> {
    const seen = await awaitSupervisor(sup, {
      spawnedAt,
      deadline: spawnedAt + timeoutSOf(this.cfg, run.plan) * 1000,
      killGraceMs: this.cfg.builder.killGraceS * 1000,
      now: this.now,
      signal,
    });
    // A supervisor that died without recording the end (SIGKILLed) may have left its builder running.
    await this.stop(run);
    return seen;
  }

  /** Stop whatever still carries the attempt's marker (and `extra` groups); true when nothing is left. */
  stop(run: Pick<BuildRun, 'dir'>, extra?: () => number[], signal?: AbortSignal): Promise<boolean> {
    return stopMarked({
      dir: run.dir,
      marker: MOSAIC_MARKER,
      extra,
      killGraceMs: this.cfg.builder.killGraceS * 1000,
      monotonic: this.monotonic,
      signal,
    });
  }

  /** How the attempt ended: the supervisor's record over what the daemon saw, the result and the outputs. */
  collect(run: BuildRun, seen: ChildResult): BuildEnd {
    const { res, exitKnown } = collectExit(run.dir, run.key, seen);
    const { result, error } = readResultFile(run.paths.result);
    const outputsExist = isFile(run.paths.fits) && isFile(run.paths.weights);
    if (!(exitKnown && res.exitCode === 0 && result?.ok && outputsExist)) removePartials(run.paths);
    return { res, exitKnown, result, resultError: error, outputsExist };
  }
}

/** Await `p`, or resolve null as soon as `detach` aborts (the work goes on without us). */
export function untilDetached<T>(p: Promise<T>, detach: AbortSignal): Promise<T | null> {
  if (detach.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const off = (): void => resolve(null);
    detach.addEventListener('abort', off, { once: true });
    p.then(
      (v) => {
        detach.removeEventListener('abort', off);
        resolve(v);
      },
      (e: unknown) => {
        detach.removeEventListener('abort', off);
        reject(e as Error);
      },
    );
  });
}
