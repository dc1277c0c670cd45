// contimg simulate: write DSA-110-layout UVH5 subband files (real HDF5) into streamingConverter.incomingDir
// at a chosen cadence, with optional faults; optionally a simulated FITS image per group. With a config it
// also plays the pipeline's calibration: a complete calibration set per scheduled calibrator transit of the
// past week up to the last observation (caltables) and a flux measurement for each
// (calibration_monitoring), with the calibration faults flux-drift, stale-calibration and missing-table.
import path from 'node:path';
import type { Command } from 'commander';
import type { Db } from '../../lib/db/index.js';
import type { CalibrationFault } from '../../lib/sim/calibration.js';
import { configPath, requireConfig, UsageError } from '../util.js';

interface Opts {
  config?: string;
  groups: string;
  cadenceS: string;
  spacingS?: string;
  start?: string;
  jitterS: string;
  decDeg: string;
  fault: string[];
  images?: string;
  out?: string;
  calibration: boolean;
}

function num(text: string, flag: string, min = 0): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`${flag}: expected a number >= ${min}, got "${text}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('write simulated DSA-110 subband files (UVH5 via h5wasm) into the incoming directory')
    .option('--config <file>', 'config file (default: $CONTIMG_CONFIG)')
    .option('--groups <n>', 'number of observations', '1')
    .option('--cadence-s <s>', 'wall-clock seconds between observations', '309')
    .option('--spacing-s <s>', 'observation-time seconds between observations (default: the cadence)')
    .option('--start <iso>', 'UTC time of the first observation (default: now)')
    .option('--jitter-s <s>', 'largest per-subband name-timestamp jitter', '2')
    .option('--dec-deg <deg>', 'pointing declination', '55.57')
    .option(
      '--fault <spec>',
      'missing-subband|corrupt-file|slow-writer|duplicate-subband|wrong-nfreqs[@GROUP[:SB]], or a ' +
        'calibration fault: flux-drift|stale-calibration|missing-table',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--images <dir>', 'also write one simulated FITS image per observation into this folder')
    .option('--out <dir>', 'write here instead of streamingConverter.incomingDir')
    .option('--no-calibration', 'do not write calibration sets and flux measurements')
    .action(async (opts: Opts) => {
      const { parseFault, simulate } = await import('../../lib/sim/index.js');
      const { isCalibrationFault } = await import('../../lib/sim/calibration.js');
      const incomingDir = opts.out
        ? path.resolve(opts.out)
        : requireConfig(opts.config).streamingConverter.incomingDir;
      const startMs = opts.start
        ? Date.parse(opts.start.endsWith('Z') ? opts.start : `${opts.start}Z`)
        : Date.now();
      if (!Number.isFinite(startMs)) throw new UsageError(`--start: cannot parse "${opts.start}"`);
      const calFaults = opts.fault.filter(isCalibrationFault);
      const faults = opts.fault
        .filter((f) => !isCalibrationFault(f))
        .map((f) => {
          try {
            return parseFault(f);
          } catch (e) {
            throw new UsageError((e as Error).message);
          }
        });
      const groups = num(opts.groups, '--groups', 1);
      const spacingS =
        opts.spacingS === undefined ? num(opts.cadenceS, '--cadence-s') : num(opts.spacingS, '--spacing-s');
      const decDeg = num(opts.decDeg, '--dec-deg', -90);
      if (opts.calibration && configPath(opts.config)) {
        const lastObsMs = startMs + (groups - 1) * spacingS * 1000;
        const r = await calibration(opts.config, { decDeg, nowMs: lastObsMs, faults: calFaults });
        process.stdout.write(
          `simulate: ${r.sets} calibration set(s), ${r.measurements} flux measurement(s)\n`,
        );
      } else if (calFaults.length) {
        throw new UsageError(
          'calibration faults need a config (its pipeline database) and no --no-calibration',
        );
      }
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once('SIGINT', stop).once('SIGTERM', stop);
      const imageDir = opts.images ? path.resolve(opts.images) : undefined;
      const images = imageDir ? await imageWriter(imageDir, opts.config) : undefined;
      let lastGroup = -1;
      const n = await simulate({
        incomingDir,
        groups,
        cadenceS: num(opts.cadenceS, '--cadence-s'),
        spacingS: opts.spacingS === undefined ? undefined : num(opts.spacingS, '--spacing-s'),
        startMs: Math.floor(startMs / 1000) * 1000,
        jitterS: num(opts.jitterS, '--jitter-s'),
        decRad: (decDeg * Math.PI) / 180,
        faults,
        signal: ac.signal,
        onFile: ({ path: p, group }) => {
          process.stdout.write(`${p}\n`);
          if (group !== lastGroup && images) images.write(path.basename(p).slice(0, 19), group);
          lastGroup = group;
        },
      });
      images?.close();
      process.stdout.write(`simulate: wrote ${n} observation(s) into ${incomingDir}\n`);
    });
}

/** One simulated image per observation; registered in the pipeline database when a config names one. */
async function imageWriter(
  dir: string,
  configOpt: string | undefined,
): Promise<{ write: (groupId: string, group: number) => void; close: () => void }> {
  const { writeObservationImage } = await import('../../lib/sim/fits-images.js');
  const cfgFile = configPath(configOpt);
  let pipelineDb: Db | undefined;
  if (cfgFile) {
    const { openDb } = await import('../../lib/db/index.js');
    // The simulator stands in for the imaging pipeline, the one writer of this database.
    pipelineDb = openDb({ name: 'pipeline', path: requireConfig(cfgFile).databases.pipeline });
  }
  return {
    write: (groupId, group) =>
      process.stdout.write(`${writeObservationImage({ dir, groupId, seed: group + 1, pipelineDb })}\n`),
    close: () => pipelineDb?.close(),
  };
}

/** The pipeline's calibration products for the week before the last observation (see cli/sim-calibration.ts). */
async function calibration(
  configOpt: string | undefined,
  o: { decDeg: number; nowMs: number; faults: CalibrationFault[] },
): Promise<{ sets: number; measurements: number }> {
  const config = requireConfig(configOpt);
  const { openDb } = await import('../../lib/db/index.js');
  const { simulateCalibration } = await import('../sim-calibration.js');
  const pipelineDb = openDb({ name: 'pipeline', path: config.databases.pipeline });
  try {
    return simulateCalibration({ config, pipelineDb, ...o, fromMs: o.nowMs - 8 * 86_400_000 });
  } finally {
    pipelineDb.close();
  }
}
